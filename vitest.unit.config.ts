import { defineConfig } from 'vitest/config'

// `npm run test:unit`: the pure and in-process tests of test/unit, without root, network or the real Mender client.
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2
  }
})
