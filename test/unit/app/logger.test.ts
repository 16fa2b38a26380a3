import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { combineAuditSinks, createLogAuditSink } from '../../../src/app/audit-sinks.ts';
import { createLogger } from '../../../src/app/logger.ts';
import { createRedactor } from '../../../src/core/redaction.ts';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, destination };
}

describe('the logger', () => {
  it('scrubs known secrets from every line, wherever they appear, and censors credential fields', () => {
    const { lines, destination } = capture();
    const logger = createLogger({ level: 'info', redact: createRedactor(['xoxb-planted-123']), destination });

    logger.info({ note: 'token is xoxb-planted-123' }, 'message with xoxb-planted-123');
    logger.error({ err: new Error('failed with xoxb-planted-123') }, 'boom');
    logger.child({ runId: 'r1' }).info({ headers: { authorization: 'Bearer other-secret' } }, 'request');

    expect(lines).toHaveLength(3);
    expect(lines.join('')).not.toContain('xoxb-planted-123');
    expect(lines.join('')).not.toContain('other-secret');
    expect(JSON.parse(lines[2] ?? '{}')).toMatchObject({
      runId: 'r1',
      headers: { authorization: '[redacted]' },
    });
  });

  it('writes audit events as lines, and one failing sink does not stop the others', () => {
    const { lines, destination } = capture();
    const logger = createLogger({ level: 'info', redact: createRedactor([]), destination });
    const seen: string[] = [];
    const sink = combineAuditSinks(
      [
        {
          record: () => {
            throw new Error('sink down');
          },
        },
        createLogAuditSink(logger),
        { record: (event) => seen.push(event.type) },
      ],
      logger,
    );

    sink.record({ type: 'guard.tripped', guard: 'tokens', reason: 'r', runId: 'run-1', traceId: 't', at: 1 });

    expect(seen).toEqual(['guard.tripped']);
    const parsed = lines.map((line) => JSON.parse(line));
    expect(parsed).toContainEqual(
      expect.objectContaining({ msg: 'an audit sink failed', eventType: 'guard.tripped' }),
    );
    expect(parsed).toContainEqual(
      expect.objectContaining({
        stream: 'audit',
        msg: 'guard.tripped',
        audit: expect.objectContaining({ runId: 'run-1' }),
      }),
    );
  });
});
