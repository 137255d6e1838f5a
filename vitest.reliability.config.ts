import { defineConfig } from 'vitest/config'

// `npm run test:reliability`: scenarios that drive the real gateway process (load, faults, abuse) and property-based
// fuzzing. One file at a time: the scenarios measure a child's memory and file descriptors, so no other scenario may
// run beside them. The global setup builds dist/ (the gateway runs as `node dist/cli.js serve`).
export default defineConfig({
  test: {
    include: ['test/reliability/**/*.test.ts'],
    globalSetup: ['test/reliability/support/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    teardownTimeout: 60_000,
    pool: 'forks',
    fileParallelism: false,
    maxWorkers: 1
  }
})
