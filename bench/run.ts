/**
 * `npm run bench`: Steward's own benchmarks (issue 8), each printed as a Markdown table with the
 * machine, the date, the command and the median of its repetitions.
 *
 *   npm run bench                          every benchmark, full size, 3 repetitions
 *   npm run bench -- --quick               small sizes, 1 repetition: proves they run (< 1 minute)
 *   npm run bench -- --only ingress,approvals
 *   npm run bench -- --reps 5 --json out.json
 *
 * Exits 1 when a benchmark fails to run; a missed target is a result ("missed"), not a failure.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../test/support/processes.ts';
import { ingressBenchmark, ingressSplitBenchmark } from './ingress.ts';
import { approvalsBenchmark } from './pending-approvals.ts';
import { recoveryBenchmark } from './recovery.ts';
import { redisBenchmark } from './redis-round-trips.ts';
import { type Benchmark, type BenchReport, median, type RunContext, renderReport } from './table.ts';

export const BENCHMARK_NAMES = ['ingress', 'ingress-split', 'approvals', 'recovery', 'redis'] as const;
export type BenchmarkName = (typeof BENCHMARK_NAMES)[number];

export interface BenchOptions {
  readonly quick: boolean;
  readonly only: readonly BenchmarkName[];
  readonly reps: number;
  readonly jsonPath?: string;
}

export interface BenchOutcome {
  readonly name: BenchmarkName;
  readonly report?: BenchReport;
  readonly error?: string;
  readonly seconds: number;
}

export function parseArgs(args: readonly string[]): BenchOptions {
  let quick = false;
  let only: BenchmarkName[] = [...BENCHMARK_NAMES];
  let reps: number | undefined;
  let jsonPath: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const [flag, inline] = arg.includes('=') ? arg.split('=', 2) : [arg, undefined];
    const value = () => inline ?? args[++i] ?? '';
    if (flag === '--quick') quick = true;
    else if (flag === '--only') {
      const names = value()
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean);
      const unknown = names.filter((name) => !(BENCHMARK_NAMES as readonly string[]).includes(name));
      if (unknown.length > 0 || names.length === 0) {
        throw new Error(
          `--only takes a comma-separated list of ${BENCHMARK_NAMES.join(', ')}; got "${names.join(',')}"`,
        );
      }
      only = names as BenchmarkName[];
    } else if (flag === '--reps') {
      reps = Number(value());
      if (!Number.isInteger(reps) || reps < 1) throw new Error('--reps takes a whole number ≥ 1');
    } else if (flag === '--json') jsonPath = value();
    else throw new Error(`unknown argument "${arg}"; use --quick, --only <names>, --reps <n>, --json <path>`);
  }
  return { quick, only, reps: reps ?? (quick ? 1 : 3), ...(jsonPath ? { jsonPath } : {}) };
}

const BENCHMARKS: Record<BenchmarkName, Benchmark> = {
  ingress: ingressBenchmark,
  'ingress-split': ingressSplitBenchmark,
  approvals: approvalsBenchmark,
  recovery: recoveryBenchmark,
  redis: redisBenchmark,
};

/** The source the figures are for: a commit, and whether the tree had changes on top of it. */
function sourceVersion(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' });
    const commit = git('rev-parse', '--short', 'HEAD').trim();
    const paths = ['src', 'adapters', 'tools'];
    const changed = git('status', '--porcelain', '--', ...paths).trim();
    if (!changed) return commit;
    // A fingerprint of the changes, so a run can tell whether they moved while it measured.
    const untracked = git('ls-files', '--others', '--exclude-standard', '--', ...paths)
      .split('\n')
      .filter(Boolean)
      .map((file) => readFileSync(join(ROOT, file), 'utf8'));
    const digest = createHash('sha1')
      .update(git('diff', 'HEAD', '--', ...paths))
      .update(untracked.join('\0'))
      .digest('hex')
      .slice(0, 8);
    return `${commit} + uncommitted changes in src/adapters/tools (${digest})`;
  } catch {
    return 'unknown';
  }
}

function commandLine(args: readonly string[]): string {
  const rest = args.join(' ');
  if (process.env.npm_lifecycle_event === 'bench') return `npm run bench${rest ? ` -- ${rest}` : ''}`;
  return `npx tsx bench/run.ts${rest ? ` ${rest}` : ''}`;
}

export async function runBenchmarks(
  options: BenchOptions,
  context: RunContext,
  write: (text: string) => void,
): Promise<BenchOutcome[]> {
  const outcomes: BenchOutcome[] = [];
  for (const name of options.only) {
    const started = Date.now();
    try {
      const report = await BENCHMARKS[name].run(options.reps, options.quick);
      write(renderReport(report, context));
      outcomes.push({ name, report, seconds: (Date.now() - started) / 1000 });
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      write(`### ${name}: failed\n\n\`\`\`\n${message}\n\`\`\`\n`);
      outcomes.push({ name, error: message, seconds: (Date.now() - started) / 1000 });
    }
  }
  return outcomes;
}

/** Medians of every measure by benchmark, for --json (the quick test reads it). */
function summary(outcomes: readonly BenchOutcome[], context: RunContext, source: string): unknown {
  return {
    command: context.command,
    date: context.date.toISOString(),
    source,
    benchmarks: Object.fromEntries(
      outcomes.map((outcome) => [
        outcome.name,
        {
          seconds: outcome.seconds,
          error: outcome.error ?? null,
          measures: Object.fromEntries(
            (outcome.report?.measures ?? []).map((m) => [
              m.name,
              { median: median(m.values), values: m.values },
            ]),
          ),
        },
      ]),
    ),
  };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const options = parseArgs(args);
  const context: RunContext = { command: commandLine(args), date: new Date() };
  const source = sourceVersion();
  const write = (text: string) => process.stdout.write(`${text}\n`);
  write(`## Steward's own benchmarks${options.quick ? ' (quick)' : ''}\n`);
  write(
    `\`${context.command}\` · ${context.date.toISOString()} · source ${source} · ` +
      `load average ${loadavg()[0]?.toFixed(2)} at start · ${options.reps} repetition${options.reps === 1 ? '' : 's'}\n`,
  );
  const started = Date.now();
  const outcomes = await runBenchmarks(options, context, write);
  const failed = outcomes.filter((outcome) => outcome.error !== undefined);
  // Every Steward process a benchmark starts loads the source as it is then: say so if it moved.
  const sourceAtEnd = sourceVersion();
  if (sourceAtEnd !== source)
    write(`**The source changed during the run** (now ${sourceAtEnd}): the figures mix versions.\n`);
  write(
    `${outcomes.length - failed.length} of ${outcomes.length} benchmarks ran in ${((Date.now() - started) / 1000).toFixed(0)} s` +
      (failed.length > 0 ? `; failed: ${failed.map((f) => f.name).join(', ')}` : ''),
  );
  if (options.jsonPath)
    writeFileSync(options.jsonPath, `${JSON.stringify(summary(outcomes, context, source), null, 2)}\n`);
  // Child processes and servers are all stopped by now; exit so a stray handle cannot hang CI.
  process.exit(failed.length > 0 ? 1 : 0);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main().catch((error: unknown) => {
    // Bad arguments and the like: one line, not a stack.
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  });
}
