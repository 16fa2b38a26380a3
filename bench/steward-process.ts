/**
 * `npm start` (src/app/main.ts) as its own process, as it runs in production: the benchmark's load
 * generator and fakes then share the machine with it but not its event loop, so what the
 * generator measures is Steward's latency, not its own. Its output goes to a file, not a pipe: a
 * pipe read by the busy generator fills up, and pino's writes to a full pipe stall Steward (a
 * log collector reading promptly is what production has).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../test/support/ports.ts';
import { ROOT, TSX } from '../test/support/processes.ts';

export interface StewardProcess {
  readonly child: ChildProcess;
  readonly baseUrl: string;
  /** Where stdout and stderr go. */
  readonly logPath: string;
  /** The last few kilobytes of stdout and stderr, for error messages. */
  tail(): string;
  /** SIGTERM (graceful: in-flight runs checkpoint), then SIGKILL to the group after `graceMs`; deletes the log. */
  stop(graceMs?: number): Promise<void>;
}

const TAIL_CHARS = 6_000;

/** Starts src/app/main.ts with exactly `env` (plus PATH and HOME) and waits until GET /readyz says ready. */
export async function startStewardProcess(
  env: Record<string, string>,
  options: { readyTimeoutMs?: number } = {},
): Promise<StewardProcess> {
  const port = await freePort();
  const logDir = mkdtempSync(join(tmpdir(), 'steward-bench-log-'));
  const logPath = join(logDir, 'steward.log');
  const log = openSync(logPath, 'a');
  const child = spawn(TSX, [join(ROOT, 'src/app/main.ts')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env, PORT: String(port) },
    // Its own process group: tsx cannot pass SIGKILL on to the node process it runs.
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const tail = () => {
    try {
      return readFileSync(logPath, 'utf8').slice(-TAIL_CHARS);
    } catch {
      return '';
    }
  };
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const killGroup = () => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (gone) throw new Error(`steward exited before it was ready:\n${tail()}`);
    const ready = await fetch(`${baseUrl}/readyz`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      killGroup();
      throw new Error(`steward was not ready within ${options.readyTimeoutMs ?? 30_000} ms:\n${tail()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    child,
    baseUrl,
    logPath,
    tail,
    async stop(graceMs = 15_000) {
      if (gone) {
        rmSync(logDir, { recursive: true, force: true });
        return;
      }
      child.kill('SIGTERM');
      const timer = setTimeout(killGroup, graceMs);
      await exited;
      clearTimeout(timer);
      // The node process tsx started may outlive tsx itself.
      killGroup();
      rmSync(logDir, { recursive: true, force: true });
    },
  };
}
