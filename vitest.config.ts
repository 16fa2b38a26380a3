import { defineConfig } from 'vitest/config';
import { SummaryReporter } from './test/support/summary-reporter.ts';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['./test/support/global-setup.ts'],
    testTimeout: 20_000,
    reporters: ['default', new SummaryReporter()],
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts', 'adapters/**/*.ts', 'tools/**/*.ts'],
      // Only the process entry points (`npm start` / `npm run chat`): they read the real environment,
      // wire real clients and own the process lifetime, so they cannot run inside a test worker. Keep
      // them thin; everything they call is covered through the modules they import.
      exclude: ['src/app/main.ts', 'src/app/chat.ts', 'src/app/audit.ts', 'src/app/discord-register.ts'],
      reporter: ['text-summary', 'text'],
      thresholds: { lines: 85 },
    },
  },
});
