import { describe, expect, it } from 'vitest';
import { lazyChild } from '../../../src/core/lazy-logger.ts';
import type { Logger } from '../../../src/core/ports.ts';

function recordingLogger(
  bindings: Record<string, unknown> = {},
  made: Record<string, unknown>[] = [],
  lines: unknown[] = [],
) {
  const logger: Logger = {
    debug: (obj, msg) => lines.push({ level: 'debug', ...bindings, ...obj, msg }),
    info: (obj, msg) => lines.push({ level: 'info', ...bindings, ...obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', ...bindings, ...obj, msg }),
    error: (obj, msg) => lines.push({ level: 'error', ...bindings, ...obj, msg }),
    child: (more) => {
      made.push(more);
      return recordingLogger({ ...bindings, ...more }, made, lines).logger;
    },
  };
  return { logger, made, lines };
}

describe('lazyChild', () => {
  it('makes no child until something is logged, then one, reused', () => {
    const { logger, made, lines } = recordingLogger();
    const child = lazyChild(logger, { runId: 'r1' });
    expect(made).toEqual([]);

    child.warn({ n: 1 }, 'first');
    child.error({ n: 2 }, 'second');
    expect(made).toEqual([{ runId: 'r1' }]);
    expect(lines).toEqual([
      { level: 'warn', runId: 'r1', n: 1, msg: 'first' },
      { level: 'error', runId: 'r1', n: 2, msg: 'second' },
    ]);
  });

  it("a lazy child's child carries both bindings, the inner one winning", () => {
    const { logger, made, lines } = recordingLogger();
    const grandchild = lazyChild(logger, { runId: 'r1', tool: 'a' }).child({ tool: 'b' });
    expect(made).toEqual([]);
    grandchild.info({}, 'hello');
    grandchild.debug({}, 'again');
    expect(lines).toEqual([
      { level: 'info', runId: 'r1', tool: 'b', msg: 'hello' },
      { level: 'debug', runId: 'r1', tool: 'b', msg: 'again' },
    ]);
  });
});
