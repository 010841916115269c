import { defineConfig } from 'vitest/config';

// Inside the kernel lab's guests (DIRTYTRACK_LAB set, npm run test:kernels) the suite is the tracking
// tests plus test/lab/, which asserts what those kernels must support; elsewhere everything but test/lab/.
const inLab = Boolean(process.env.DIRTYTRACK_LAB);

export default defineConfig({
  test: {
    include: inLab ? ['test/lab/**/*.test.ts', 'test/tracking/**/*.test.ts'] : ['test/**/*.test.ts'],
    exclude: inLab ? [] : ['test/lab/**', 'node_modules/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Integration tests spawn targets and read /proc: one file at a time on these 2-core machines.
    fileParallelism: false,
  },
});
