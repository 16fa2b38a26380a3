import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const TSX = join(ROOT, 'node_modules/.bin/tsx');

export interface Child {
  readonly process: ChildProcessWithoutNullStreams;
  /** Everything written to stdout so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout has matched `pattern` (counting from the start of the output). */
  waitFor(pattern: RegExp | string, timeoutMs?: number): Promise<void>;
  /** Resolves with the exit code (or the signal's name) when the process has ended. */
  exited(): Promise<number | string>;
  /**
   * Signals the process. tsx runs the script in a child node process and cannot pass SIGKILL on,
   * so SIGKILL goes to the whole process group; other signals go to tsx, which relays them.
   */
  kill(signal: NodeJS.Signals): void;
}

/** Runs a TypeScript entry point with tsx in its own process, capturing its output. */
export function startTsx(script: string, options: { env: Record<string, string>; cwd?: string }): Child {
  const child = spawn(TSX, [script], { cwd: options.cwd ?? ROOT, env: options.env, detached: true });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    for (const listener of listeners) listener();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const exit = new Promise<number | string>((done) =>
    child.on('close', (code, signal) => done(code ?? signal ?? 'unknown')),
  );
  return {
    process: child,
    stdout: () => out,
    stderr: () => err,
    exited: () => exit,
    kill(signal) {
      try {
        // SIGKILL cannot be relayed, so it goes to the whole group; other signals go to the main
        // process (tsx passes them on), as a process manager would send them.
        if (signal === 'SIGKILL' && child.pid !== undefined) process.kill(-child.pid, signal);
        else child.kill(signal);
      } catch {
        // Already gone.
      }
    },
    waitFor(pattern, timeoutMs = 20_000) {
      const matches = () => (typeof pattern === 'string' ? out.includes(pattern) : pattern.test(out));
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!matches()) return;
          clearTimeout(timer);
          listeners.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(
            new Error(
              `process output did not show ${String(pattern)} within ${timeoutMs} ms.\nstdout:\n${out}\nstderr:\n${err}`,
            ),
          );
        }, timeoutMs);
        listeners.add(check);
        void exit.then(() => {
          if (!matches()) {
            clearTimeout(timer);
            listeners.delete(check);
            reject(
              new Error(
                `process exited before showing ${String(pattern)}.\nstdout:\n${out}\nstderr:\n${err}`,
              ),
            );
          }
        });
        check();
      });
    },
  };
}
