import type { AuditEvent } from '../core/audit-events.ts';
import type { AuditSink, Logger } from '../core/ports.ts';

/** Audit events as structured log lines; the Redis stream sink joins it with the durable-runs work. */
export function createLogAuditSink(logger: Logger): AuditSink {
  const audit = logger.child({ stream: 'audit' });
  return { record: (event) => audit.info({ audit: event }, event.type) };
}

/** Sends every event to each sink; one sink failing never stops the others or the run. */
export function combineAuditSinks(sinks: readonly AuditSink[], logger: Logger): AuditSink {
  return {
    record(event: AuditEvent) {
      for (const sink of sinks) {
        try {
          sink.record(event);
        } catch (error) {
          logger.error({ err: error, eventType: event.type }, 'an audit sink failed');
        }
      }
    },
  };
}
