/**
 * Figures and Markdown tables for `npm run bench`. Every benchmark reports measures (one value per
 * repetition); the table shows the median, every repetition, the target or baseline it is held
 * against and the ratio, so a reader compares ratios from one run, as bench/README.md asks.
 */
import { cpus } from 'node:os';

/** A ceiling the median should stay under (a target) or a figure it is compared with (a baseline). */
export interface Reference {
  readonly value: number;
  /** How the reference reads in the table, e.g. "≤ 50 ms" or "model delay 1,000 ms". */
  readonly label: string;
  /** A target is met or missed; a baseline only gives a ratio. */
  readonly kind: 'max' | 'min' | 'baseline';
}

export interface Measure {
  readonly name: string;
  /** One value per repetition; NaN for a repetition that could not produce it. */
  readonly values: readonly number[];
  readonly digits?: number;
  readonly reference?: Reference;
}

export interface BenchReport {
  readonly title: string;
  /** What was run, e.g. "200 events/s for 60 s, model answers after 1,000 ms". */
  readonly setup: string;
  readonly redisVersion: string;
  readonly reps: number;
  readonly measures: readonly Measure[];
  /** Extra lines after the table (breakdowns, caveats). */
  readonly notes?: readonly string[];
}

/** Nearest-rank percentile of unsorted values (p in 0..100); NaN when there are none. */
export function percentile(values: readonly number[], p: number): number {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * finite.length);
  return finite[Math.min(finite.length - 1, Math.max(0, rank - 1))] ?? Number.NaN;
}

/** The median of the repetitions (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const middle = Math.floor(finite.length / 2);
  const upper = finite[middle] ?? Number.NaN;
  return finite.length % 2 === 1 ? upper : ((finite[middle - 1] ?? upper) + upper) / 2;
}

export function formatNumber(value: number, digits = 1): string {
  if (!Number.isFinite(value)) return '—';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Met, missed, or empty for a baseline; "—" when the figure is missing. */
export function verdict(value: number, reference: Reference | undefined): string {
  if (!reference || reference.kind === 'baseline') return '';
  if (!Number.isFinite(value)) return '—';
  const met = reference.kind === 'max' ? value <= reference.value : value >= reference.value;
  return met ? 'met' : 'missed';
}

/** A Markdown table; columns whose alignment is 'right' get `--:` so numbers line up when rendered. */
export function markdownTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  align: readonly ('left' | 'right')[] = [],
): string {
  const widths = headers.map((header, column) =>
    Math.max(3, header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const cell = (text: string, column: number) =>
    align[column] === 'right' ? text.padStart(widths[column] ?? 0) : text.padEnd(widths[column] ?? 0);
  const line = (cells: readonly string[]) => `| ${cells.map((text, i) => cell(text, i)).join(' | ')} |`;
  const rule = `| ${widths.map((width, i) => (align[i] === 'right' ? `${'-'.repeat(width - 1)}:` : '-'.repeat(width))).join(' | ')} |`;
  return [line(headers), rule, ...rows.map((row) => line(row))].join('\n');
}

export interface RunContext {
  /** The command as typed, e.g. `npm run bench -- --quick`. */
  readonly command: string;
  readonly date: Date;
}

/** cpu model × cores, Node version, Redis version: the facts a reader needs to weigh the figures. */
export function machineLine(redisVersion: string): string {
  const cpu = cpus();
  const model = cpu[0]?.model.trim() ?? 'unknown cpu';
  return `${model}, ${cpu.length} cores, node ${process.version}, Redis ${redisVersion}`;
}

/** One benchmark's section: heading, machine, date, command, the table and its notes. */
export function renderReport(report: BenchReport, context: RunContext): string {
  const rows = report.measures.map((measure) => {
    const digits = measure.digits ?? 1;
    const middle = median(measure.values);
    const reference = measure.reference;
    const ratio =
      reference && Number.isFinite(middle) && reference.value !== 0
        ? `${formatNumber(middle / reference.value, 2)}×`
        : '';
    return [
      measure.name,
      formatNumber(middle, digits),
      measure.values.map((value) => formatNumber(value, digits)).join(', '),
      reference?.label ?? '',
      ratio,
      verdict(middle, reference),
    ];
  });
  const table = markdownTable(
    ['measure', `median of ${report.reps}`, 'each run', 'target / baseline', 'ratio', 'result'],
    rows,
    ['left', 'right', 'right', 'left', 'right', 'left'],
  );
  return [
    `### ${report.title}`,
    '',
    `\`${context.command}\` · ${context.date.toISOString().slice(0, 16).replace('T', ' ')} UTC · ${machineLine(report.redisVersion)}`,
    '',
    report.setup,
    '',
    table,
    ...(report.notes && report.notes.length > 0 ? ['', ...report.notes] : []),
    '',
  ].join('\n');
}

/** One benchmark as `npm run bench` runs it: `reps` repetitions, then one report of them all. */
export interface Benchmark {
  readonly name: string;
  run(reps: number, quick: boolean): Promise<BenchReport>;
}

/** Keeps each benchmark's result type between its measure and its report. */
export function defineBenchmark<T>(
  name: string,
  measure: (quick: boolean) => Promise<T>,
  report: (results: readonly T[], quick: boolean) => BenchReport,
): Benchmark {
  return {
    name,
    async run(reps, quick) {
      const results: T[] = [];
      // One after another: repetitions running together would measure each other.
      for (let rep = 0; rep < reps; rep++) results.push(await measure(quick));
      return report(results, quick);
    },
  };
}

/** The values of one field across repetitions. */
export function each<T>(results: readonly T[], pick: (result: T) => number): number[] {
  return results.map(pick);
}
