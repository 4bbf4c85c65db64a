/**
 * Child process for watchdog.test.ts: beats once with a known input, then
 * loops forever, as a parser stuck in an endless loop would.
 */
import { Watchdog } from '../../../src/fuzz/watchdog.js';

const dir = process.argv[2]!;
const w = new Watchdog({ stallMs: 300, dir });
w.beat('framer', 7, 1234, [Buffer.from('stuck here'), Buffer.from([1, 2, 3])]);
let x = 0;
for (;;) x = (x + 1) | 0;
