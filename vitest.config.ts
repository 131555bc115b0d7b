import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Real sockets and real server processes: keep parallelism modest on a 2-core box.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2 } },
    // The JSON copy lets CI print a one-line summary; the console keeps the default report.
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results.json' },
  },
});
