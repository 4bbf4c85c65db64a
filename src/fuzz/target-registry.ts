/**
 * The fuzz targets by name, loaded on demand: a target module pulls in the
 * ddplab code it fuzzes, and that code must be compiled after coverage
 * starts to get block (not only function) coverage (coverage.ts).
 */
import type { FuzzTarget } from './target.js';

type Loader = () => Promise<FuzzTarget>;

const LOADERS: ReadonlyMap<string, Loader> = new Map<string, Loader>([
  ['ethernet', async () => (await import('./targets/frame-parsers.js')).ethernetTarget],
  ['arp', async () => (await import('./targets/frame-parsers.js')).arpTarget],
  ['ipv4', async () => (await import('./targets/frame-parsers.js')).ipv4Target],
  ['tcp', async () => (await import('./targets/frame-parsers.js')).tcpTarget],
  ['frame', async () => (await import('./targets/frame-parsers.js')).frameTarget],
  ['pdu', async () => (await import('./targets/pdu.js')).pduTarget],
  ['nvme', async () => (await import('./targets/nvme-structures.js')).nvmeTarget],
  ['framer', async () => (await import('./targets/pdu-framer.js')).pduFramerTarget],
  ['pcap', async () => (await import('./targets/pcap.js')).pcapTarget],
  ['nic', async () => (await import('./targets/nic-rx.js')).nicRxTarget],
  ['stack', async () => (await import('./targets/receive-path.js')).receivePathTarget],
  ['replay', async () => (await import('./targets/replay.js')).replayTarget],
]);

/** Every target name, in the order a full run visits them. */
export const TARGET_NAMES: readonly string[] = [...LOADERS.keys()];

/** Loads the named targets (all when `names` is empty); unknown names are a RangeError naming the known ones. */
export async function loadTargets(names: readonly string[] = []): Promise<FuzzTarget[]> {
  const wanted = names.length === 0 ? TARGET_NAMES : names;
  const out: FuzzTarget[] = [];
  for (const name of wanted) {
    const load = LOADERS.get(name);
    if (load === undefined) throw new RangeError(`no fuzz target '${name}' (targets: ${TARGET_NAMES.join(', ')})`);
    out.push(await load());
  }
  return out;
}
