import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, TSX } from '../support/processes.ts';

/**
 * `npm run bench -- --quick` still runs: every benchmark of issue 8 completes, prints its table,
 * and reports figures that make sense. Benchmarks are not tests: only that they run and measure
 * something is checked here, never whether a target is met.
 */
interface Summary {
  benchmarks: Record<
    string,
    { error: string | null; measures: Record<string, { median: number; values: number[] }> }
  >;
}

const dir = mkdtempSync(join(tmpdir(), 'bench-quick-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runQuick(jsonPath: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(TSX, ['bench/run.ts', '--quick', '--json', jsonPath], {
      cwd: ROOT,
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run bench -- --quick', () => {
  it('runs every benchmark, prints its table and measures sane figures', async () => {
    const jsonPath = join(dir, 'bench.json');
    const { code, stdout, stderr } = await runQuick(jsonPath);

    expect(code, `stdout:\n${stdout}\nstderr:\n${stderr}`).toBe(0);
    for (const title of [
      'Slack ingress',
      'Slack ingress, ingress and worker processes',
      'Pending approvals',
      'Recovery after SIGKILL',
      'Redis per model round trip',
    ]) {
      expect(stdout).toContain(`### ${title}`);
    }
    expect(stdout).toMatch(/\d+ cores, node v\d+/);
    expect(stdout).toContain('5 of 5 benchmarks ran');

    const summary = JSON.parse(readFileSync(jsonPath, 'utf8')) as Summary;
    const figure = (bench: string, measure: string): number => {
      const found = summary.benchmarks[bench];
      expect(found?.error ?? null).toBeNull();
      const value = found?.measures[measure]?.median;
      expect(value, `${bench}: ${measure}`).toBeTypeOf('number');
      return value ?? Number.NaN;
    };

    const ackP99 = figure('ingress', 'ack latency p99 (ms)');
    expect(Number.isFinite(ackP99) && ackP99 > 0).toBe(true);
    expect(figure('ingress', 'events with a status message (%)')).toBeGreaterThan(0);
    expect(figure('ingress', 'request → status message p50 (ms)')).toBeGreaterThanOrEqual(0);
    expect(figure('ingress-split', 'events answered (%)')).toBeGreaterThan(0);

    // About 3,250 at this size (fixed costs spread over 500 runs; 2,7xx over 10,000): a waiting run
    // holds no approval key, approvals-pending set or whole-item timer any more.
    const bytesPerRun = figure('approvals', 'Redis bytes per pending run (INFO used_memory)');
    expect(bytesPerRun).toBeGreaterThan(0);
    expect(bytesPerRun).toBeLessThan(3_600);
    expect(figure('approvals', 'runs awaiting approval')).toBe(500);
    expect(figure('approvals', 'BullMQ active jobs while they wait')).toBe(0);

    const resumed = figure('recovery', 'SIGKILL → run resumed by the other process (ms)');
    expect(resumed).toBeGreaterThan(0);
    expect(resumed).toBeLessThan(60_000);

    expect(figure('redis', 'Redis commands per model round trip')).toBeGreaterThan(0);
    expect(figure('redis', 'Redis round trips per model round trip')).toBeGreaterThan(0);
  }, 90_000);
});
