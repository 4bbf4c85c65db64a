/**
 * The forger as a process, run inside the target's namespace (see
 * lab/forge/inject.ts): sniffs the target's interface with libpcap, lets a
 * Forger (lab/forge/segments.ts) pick the moments, and sends each forged
 * segment through a raw IPv4 socket (raw-inject.ts) toward the host.
 *
 *   ip netns exec ddplab-<id>-tgt node --import tsx src/lab/forge/inject-cli.ts \
 *     --iface tgt0 --cases overlap,in-window,past-buffer,unknown-cid [--port 4420] [--after N] [--spacing 4] [--aim race|idle]
 *
 * stdout, one JSON object per line: {"sniffing": iface} once the capture is
 * open; {"injected": {...}} per segment sent; {"done": {pending: [...]}} at
 * the end — when every case was sent (after --linger-ms more of sniffing),
 * or on SIGTERM/SIGINT. Errors: one line on stderr, exit 1.
 */
import { parseArgs } from 'node:util';
import { openLivePort } from '../../nicemu/port/live.js';
import { FORGE_CASES, Forger, type ForgeCase, type ForgeInjection } from './segments.js';
import { openRawIpInjector } from './raw-inject.js';

function line(o: unknown): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}

function casesOf(text: string): ForgeCase[] {
  const out: ForgeCase[] = [];
  for (const c of text.split(',')) {
    if (!(FORGE_CASES as readonly string[]).includes(c)) throw new Error(`--cases: unknown case '${c}' (one of ${FORGE_CASES.join(', ')})`);
    out.push(c as ForgeCase);
  }
  return out;
}

function report(i: ForgeInjection): unknown {
  return { kind: i.kind, hostPort: i.hostPort, seq: i.seq >>> 0, len: i.len, what: i.what, ...(i.header !== undefined ? { header: i.header } : {}) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      iface: { type: 'string', default: 'tgt0' },
      cases: { type: 'string', default: FORGE_CASES.join(',') },
      port: { type: 'string', default: '4420' },
      spacing: { type: 'string', default: '4' },
      'linger-ms': { type: 'string', default: '300' },
      aim: { type: 'string', default: 'race' },
      after: { type: 'string' },
    },
  });
  const port = Number(values.port);
  const aim = values.aim;
  if (aim !== 'race' && aim !== 'idle') throw new Error(`--aim: '${aim}' is not race or idle`);
  const forger = new Forger({ cases: casesOf(values.cases), targetPort: port, spacing: Number(values.spacing), aim, ...(values.after !== undefined ? { after: Number(values.after) } : {}) });
  const injector = openRawIpInjector();
  const live = openLivePort({ iface: values.iface, filter: `tcp port ${port}` });
  let finishing = false;
  const finish = async (): Promise<void> => {
    if (finishing) return;
    finishing = true;
    line({ done: { pending: forger.pending } });
    injector.close();
    await live.close();
    process.exit(0);
  };
  let failure: unknown;
  live.onFrames((batch) => {
    for (const f of batch) {
      for (const inj of forger.onFrame(f.data)) {
        injector.send(inj.packet).then(
          () => line({ injected: report(inj) }),
          (e: unknown) => (failure ??= e),
        );
      }
    }
    if (failure !== undefined) {
      process.stderr.write(`forge-inject: ${failure instanceof Error ? failure.message : String(failure)}\n`);
      process.exit(1);
    }
    if (forger.pending.length === 0 && !finishing) setTimeout(() => void finish(), Number(values['linger-ms']));
  });
  process.on('SIGTERM', () => void finish());
  process.on('SIGINT', () => void finish());
  line({ sniffing: values.iface });
}

main().catch((e: unknown) => {
  process.stderr.write(`forge-inject: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
