import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // lavapipe and ffmpeg each use every core; two forks keep a 2-core CI machine responsive.
    pool: 'forks',
    maxWorkers: 2,
  },
});
