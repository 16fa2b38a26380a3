import type { Reporter, TestModule, Vitest } from 'vitest/node';

/**
 * Prints one plain closing line, `N passed, N failed, N skipped`, as the very last line of the
 * run (after the coverage table when there is one), so CI tooling that reads a run's closing
 * line sees the counts. Errors outside tests and modules that failed to load count as failures.
 */
export class SummaryReporter implements Reporter {
  private coverageEnabled = false;
  private line: string | undefined;

  onInit(vitest: Vitest): void {
    this.coverageEnabled = vitest.config.coverage.enabled;
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = unhandledErrors.length;
    let skipped = 0;
    for (const module of testModules) {
      const tests = [...module.children.allTests()];
      if (module.state() === 'failed' && tests.length === 0) failed += 1;
      for (const test of tests) {
        const state = test.result().state;
        if (state === 'passed') passed += 1;
        else if (state === 'failed') failed += 1;
        else skipped += 1;
      }
    }
    this.line = `${passed} passed, ${failed} failed, ${skipped} skipped`;
    // Vitest skips the coverage report when a test failed, so the line is printed now instead.
    if (!this.coverageEnabled || failed > 0) this.print();
  }

  onFinishedReportCoverage(): void {
    this.print();
  }

  private print(): void {
    if (this.line === undefined) return;
    process.stdout.write(`\n${this.line}\n`);
    this.line = undefined;
  }
}
