import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Every test process runs on a fixed calendar, never on today's date (see the file).
    setupFiles: ['test/support/test-date.mjs'],
    // Bundles the child processes some tests start (test/support/children.ts).
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Each file gets its own database (see test/support/db.ts); two cores on CI.
    maxWorkers: 2,
  },
});
