/**
 * Entry point run inside a namespace (see injectInNamespace): sends each
 * argument, a whole IPv4 packet in hex, through a raw socket of this
 * namespace, in order. With "-" it reads one hex packet per line from stdin
 * instead. Prints "sent <n>" and exits 0, or one line on stderr and exits 1.
 *
 *   ip netns exec ddplab-<id>-tgt node --import tsx src/lab/forge/raw-inject-cli.ts 4500003c...
 */
import { createInterface } from 'node:readline';
import { openRawIpInjector } from './raw-inject.js';

function decode(hex: string): Buffer {
  const text = hex.trim();
  if (!/^([0-9a-fA-F]{2})+$/.test(text)) throw new Error(`not a hex packet: "${text.slice(0, 32)}"`);
  return Buffer.from(text, 'hex');
}

async function* packets(args: readonly string[]): AsyncGenerator<Buffer> {
  if (args.length === 1 && args[0] === '-') {
    for await (const line of createInterface({ input: process.stdin })) {
      if (line.trim() !== '') yield decode(line);
    }
    return;
  }
  for (const arg of args) yield decode(arg);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.length === 0) throw new Error('usage: raw-inject-cli.ts <hex-packet>... | -');
  const injector = openRawIpInjector();
  let sent = 0;
  try {
    for await (const packet of packets(args)) {
      await injector.send(packet);
      sent++;
    }
  } finally {
    injector.close();
  }
  process.stdout.write(`sent ${sent}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`raw-inject: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
