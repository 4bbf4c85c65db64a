import { defineConfig } from 'vitest/config';

// Live tests share host-wide resources (namespaces, veth names derived from a
// run id, CPU for frame floods): run test files one at a time so that timing
// of one test never depends on another's flood.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
