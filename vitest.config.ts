import { configDefaults, defineConfig } from 'vitest/config';

// Four kinds of test, each a project that runs alone (`vitest run --project
// unit`, see package.json) and all of them under `vitest run`:
//   unit    pure code, files in parallel: the quick loop while editing;
//   slow    no root either, but seconds to minutes per file: the fuzzer's
//           own runs, the differential oracle of the DDP receive path, and
//           the tests that spawn processes (the CLI, tshark, tcpdump);
//   replay  pcap files through the NIC and host (*.replay.test.ts);
//   live    root, network namespaces, real frames (*.live.test.ts).
// Live tests share host-wide resources (namespaces, CPU for frame floods): their
// files run one at a time, after every other project has finished, so that the
// timing of one never depends on another's flood or on a parallel unit run.
const LIVE = 'test/**/*.live.test.ts';
const REPLAY = 'test/**/*.replay.test.ts';
const SLOW = [
  'test/fuzz/fuzz.test.ts',
  'test/fuzz/fuzzer.test.ts',
  'test/fuzz/main.test.ts',
  'test/fuzz/watchdog.test.ts',
  // Needs a fresh module state (block coverage of modules it imports itself).
  'test/fuzz/coverage.test.ts',
  'test/host/nvme/ddp-differential.test.ts',
  'test/cli/cmd-*.test.ts',
  'test/wire/pcap.test.ts',
  'test/**/*.tshark.test.ts',
  'test/wire/nvme-wireshark.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, LIVE, REPLAY, ...SLOW],
          // Pure code keeps no state between files that matters: sharing a module graph per worker
          // saves re-importing it for each of ~95 files (about a third of the project's time).
          isolate: false,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: { name: 'slow', include: SLOW, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
      {
        extends: true,
        test: { name: 'replay', include: [REPLAY], fileParallelism: false, sequence: { groupOrder: 1 } },
      },
      {
        extends: true,
        test: { name: 'live', include: [LIVE], fileParallelism: false, sequence: { groupOrder: 2 } },
      },
    ],
  },
});
