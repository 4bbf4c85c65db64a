/**
 * Replay throughput (npm run bench:replay): how fast the software NIC and
 * the host's receive path go with nothing else in the way — a synthetic
 * capture of 128 KiB reads (src/replay/synthetic-capture.ts: header and
 * data digests, random completion order, one C2HData PDU per read as Linux
 * targets send them) written to a temporary pcap, replayed with offload
 * none and ddp-crc, beside the memcpy rate (Buffer.copy of 128 KiB blocks)
 * of the same machine in the same run. It prints figures and asserts
 * nothing about time.
 *
 *   npm run bench:replay -- [--mib 256] [--mtu 1500,9000] [--runs 3]
 *
 * Each figure is the median of --runs replays; frames/s counts every frame
 * of the capture (both directions), GB/s counts C2HData payload (1 GB =
 * 1e9 bytes) per second of wall time, and per second of this process's CPU
 * time (the figure to trust on a busy machine). The replay reads the file
 * through the pcap reader, so the figures include parsing the capture; they
 * also include verifying every TCP checksum (as the NIC does) and the
 * SHA-256 of every read (the replay's output).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { replayCapture } from '../src/replay/replay.js';
import type { DdpOffloadMode } from '../src/host/offload-mode.js';
import { synthesizeSession } from '../src/replay/synthetic-capture.js';
import { writePcapFileSync } from '../src/wire/pcap.js';

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '256' },
    mtu: { type: 'string', default: '1500,9000' },
    runs: { type: 'string', default: '3' },
  },
});
const READ_BYTES = 128 * 1024;
const mib = Number(values.mib);
const runs = Number(values.runs);
const mtus = values.mtu.split(',').map(Number);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Buffer.copy of READ_BYTES blocks over `totalBytes` (a cold-ish 256 MiB source, cycled), GB/s. */
function memcpyGBps(totalBytes: number): number {
  const src = Buffer.alloc(256 * 1024 * 1024, 7);
  const dst = Buffer.allocUnsafe(READ_BYTES);
  const rates: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    let at = 0;
    for (let n = 0; n < totalBytes; n += READ_BYTES) {
      src.copy(dst, 0, at, at + READ_BYTES);
      at = (at + READ_BYTES) % src.length;
    }
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    rates.push(totalBytes / s / 1e9);
  }
  return median(rates);
}

const dir = mkdtempSync(join(tmpdir(), 'ddplab-bench-replay-'));
try {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  process.stdout.write(`ddplab replay throughput: ${mib} MiB of 128 KiB reads, digests header+data, median of ${runs} runs, ${cpu}, Node ${process.version}\n\n`);
  const copy = memcpyGBps(mib * 1024 * 1024);
  process.stdout.write(`memcpy (Buffer.copy, 128 KiB blocks): ${copy.toFixed(2)} GB/s\n\n`);
  process.stdout.write('| MTU | frames | capture MiB | offload | frames/s | C2HData GB/s | vs memcpy | CPU s | GB per CPU-s | placed % | host CRC MiB |\n');
  process.stdout.write('|---|---|---|---|---|---|---|---|---|---|---|\n');
  for (const mtu of mtus) {
    const session = synthesizeSession({
      seed: 1,
      reads: Math.round((mib * 1024 * 1024) / READ_BYTES),
      readBytes: [READ_BYTES],
      queueDepth: 32,
      hdgst: true,
      ddgst: true,
      order: 'random',
      // MSS of the MTU with TCP timestamps, as Linux sends.
      segmentBytes: mtu - 52,
    });
    const path = join(dir, `mtu${mtu}.pcap`);
    writePcapFileSync(path, session.frames);
    const frames = session.frames.length;
    session.frames.length = 0;
    const size = statSync(path).size / (1024 * 1024);
    for (const offload of ['none', 'ddp-crc'] as DdpOffloadMode[]) {
      const secs: number[] = [];
      const cpuSecs: number[] = [];
      let placedPct = 0;
      let crcMiB = 0;
      for (let r = 0; r < runs; r++) {
        const c0 = process.cpuUsage();
        const t0 = process.hrtime.bigint();
        const rep = await replayCapture({ path, offload });
        secs.push(Number(process.hrtime.bigint() - t0) / 1e9);
        const c = process.cpuUsage(c0);
        cpuSecs.push((c.user + c.system) / 1e6);
        const b = rep.total.bytes;
        if (rep.reads.some((x) => x.status !== 'ok')) throw new Error(`replay of ${path} with ${offload}: not every read verified`);
        placedPct = (100 * b.placed) / b.c2hData;
        crcMiB = b.hostCrcData / (1024 * 1024);
      }
      const s = median(secs);
      const cpuS = median(cpuSecs);
      const gbps = session.c2hDataBytes / s / 1e9;
      process.stdout.write(
        `| ${mtu} | ${frames} | ${size.toFixed(0)} | ${offload} | ${Math.round(frames / s).toLocaleString('en-US')} | ${gbps.toFixed(2)} | ${((100 * gbps) / copy).toFixed(1)}% | ${cpuS.toFixed(2)} | ${(session.c2hDataBytes / cpuS / 1e9).toFixed(2)} | ${placedPct.toFixed(1)} | ${crcMiB.toFixed(0)} |\n`,
      );
    }
    rmSync(path);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
