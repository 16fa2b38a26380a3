/**
 * How busy the rest of the machine was while a benchmark ran. On a shared 2-core machine another
 * process (a test run, a type check) can take a whole core and inflate every latency; this says
 * so in the table instead of leaving the reader to guess. Linux only (/proc); NaN elsewhere.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: 100 on every Linux Node supports. */
const TICKS_PER_SECOND = 100;

interface ProcStat {
  readonly ppid: number;
  readonly pgrp: number;
  readonly ticks: number;
}

function readStat(pid: string): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the ")" that closes the command name: state ppid pgrp … utime(14) stime(15).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      ppid: Number(fields[1]),
      pgrp: Number(fields[2]),
      ticks: Number(fields[11]) + Number(fields[12]),
    };
  } catch {
    return undefined;
  }
}

function allStats(): Map<number, ProcStat> {
  const stats = new Map<number, ProcStat>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(entry);
    if (stat) stats.set(Number(entry), stat);
  }
  return stats;
}

/** CPU seconds (user + system) of every process in a process group. */
export function groupCpuSeconds(pgid: number | undefined): number {
  if (pgid === undefined) return Number.NaN;
  try {
    let ticks = 0;
    for (const stat of allStats().values()) if (stat.pgrp === pgid) ticks += stat.ticks;
    return ticks / TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

/** Ticks of this process and every process it started (its servers, Steward, redis-server). */
function ownTicks(): Map<number, number> {
  const stats = allStats();
  const own = new Map<number, number>();
  const children = new Map<number, number[]>();
  for (const [pid, stat] of stats) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), pid]);
  const queue = [process.pid];
  while (queue.length > 0) {
    const pid = queue.pop() ?? 0;
    own.set(pid, stats.get(pid)?.ticks ?? 0);
    queue.push(...(children.get(pid) ?? []));
  }
  return own;
}

/** Busy ticks of the whole machine (all cores), from the first line of /proc/stat. */
function machineBusyTicks(): number {
  const [, ...fields] = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields.map(Number);
  return user + nice + system + irq + softirq + steal;
}

export interface LoadWatch {
  /** Cores' worth of CPU that processes outside this benchmark used since the watch started. */
  stop(): number;
}

export function watchOtherLoad(): LoadWatch {
  try {
    const started = Date.now();
    const busyBefore = machineBusyTicks();
    const ownBefore = ownTicks();
    return {
      stop() {
        try {
          const seconds = (Date.now() - started) / 1000;
          const busy = machineBusyTicks() - busyBefore;
          let own = 0;
          for (const [pid, ticks] of ownTicks()) own += ticks - (ownBefore.get(pid) ?? 0);
          return Math.max(0, busy - own) / TICKS_PER_SECOND / seconds;
        } catch {
          return Number.NaN;
        }
      },
    };
  } catch {
    return { stop: () => Number.NaN };
  }
}
