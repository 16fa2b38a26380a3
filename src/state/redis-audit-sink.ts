import type { Redis } from 'ioredis';
import type { AuditEvent } from '../core/audit-events.ts';
import type { ConversationRef } from '../core/conversation.ts';
import { isRecord } from '../core/is-record.ts';
import type { AuditSink, Logger } from '../core/ports.ts';
import { isPacked, packJson, unpackJson } from './packed-json.ts';
import { defineScript, wrapUnavailable } from './redis-connection.ts';
import { channelKeyOf, type RedisKeys } from './redis-keys.ts';

export interface RedisAuditSinkOptions {
  readonly redis: Redis;
  readonly keys: RedisKeys;
  readonly logger: Logger;
  /** Approximate cap of each channel stream (MAXLEN ~), in entries (each a batch of events). */
  readonly channelMaxLen?: number;
  /** Cap of each run's log, in entries (each a batch of events). */
  readonly runMaxLen?: number;
  readonly runTtlSeconds?: number;
  /** The channel key of a run this process did not see start (e.g. resumed elsewhere). */
  readonly channelKeyFor?: (runId: string) => string | undefined;
  /**
   * How long events wait for a ride: a checkpoint calls flushNow() so they travel in the same
   * write (the connection auto-pipelines), and this timer writes whatever no checkpoint took.
   * Default 20 ms.
   */
  readonly flushDelayMs?: number;
}

export interface RedisAuditSink extends AuditSink {
  /** Writes everything recorded so far; resolves when Redis has answered. Never rejects. */
  flush(): Promise<void>;
  /** Sends what is buffered now, without waiting: it joins the commands sent in this tick. */
  flushNow(): void;
}

const DEFAULT_CHANNEL_MAXLEN = 10_000;
const DEFAULT_RUN_MAXLEN = 5_000;
const DEFAULT_RUN_TTL_SECONDS = 30 * 24 * 60 * 60;
/** Runs whose channel is remembered; the oldest is forgotten first. */
const MAX_KNOWN_RUNS = 10_000;
// KEYS: a run log. ARGV: how many entries were packed, the packed entry, TTL in seconds.
// Replaces the first entries by their packed form unless the log lost entries meanwhile.
const PACK_LOG_SCRIPT = defineScript(`
if redis.call('LLEN', KEYS[1]) < tonumber(ARGV[1]) then return 0 end
redis.call('LTRIM', KEYS[1], ARGV[1], -1)
redis.call('LPUSH', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
`);

/** Events held while Redis is slow; beyond this the oldest are dropped (and counted in a warning). */
const MAX_BUFFERED = 10_000;

/**
 * Audit events to Redis: every event in a list per run (expires with the run); each run's start
 * and end in a stream per channel (capped), the channel's history of runs, without what the key and
 * the run's log already say (forChannel). record() only buffers; the batch rides along with the run's next checkpoint (or goes
 * after 20 ms), and a Redis outage costs log lines, never a failed run.
 */
export function createRedisAuditSink(options: RedisAuditSinkOptions): RedisAuditSink {
  const { redis, keys, logger } = options;
  const channelMaxLen = String(options.channelMaxLen ?? DEFAULT_CHANNEL_MAXLEN);
  const runMaxLen = options.runMaxLen ?? DEFAULT_RUN_MAXLEN;
  const runTtl = options.runTtlSeconds ?? DEFAULT_RUN_TTL_SECONDS;
  const channelOfRun = new Map<string, string>();
  const flushDelayMs = options.flushDelayMs ?? 20;
  let buffer: AuditEvent[] = [];
  let dropped = 0;
  let timer: NodeJS.Timeout | undefined;
  // Commands on one connection run in the order sent, so events reach each stream in the order
  // recorded; this only tracks what is still unanswered, for flush().
  const writing = new Set<Promise<void>>();
  // Run streams whose TTL this process has set; refreshed when a run starts, pauses or ends.
  const expiring = new Set<string>();

  const channelFor = (event: AuditEvent): string | undefined => {
    if (event.type === 'run.started') {
      channelOfRun.delete(event.runId);
      channelOfRun.set(event.runId, channelKeyOf(event.conversation));
      const oldest = channelOfRun.keys().next().value;
      if (channelOfRun.size > MAX_KNOWN_RUNS && oldest !== undefined) channelOfRun.delete(oldest);
    }
    const known = channelOfRun.get(event.runId);
    if (known !== undefined) return known;
    try {
      return options.channelKeyFor?.(event.runId);
    } catch (error) {
      logger.warn({ err: error, runId: event.runId }, 'audit: channelKeyFor failed');
      return undefined;
    }
  };

  const write = async (batch: readonly AuditEvent[]): Promise<void> => {
    const commands: Promise<unknown>[] = [];
    const runKeys = new Set<string>();
    const parked = new Set<string>();
    // One stream entry per stream per batch (its events as a JSON array, in order): a step's
    // events cost one XADD per stream instead of one per event.
    const entries = new Map<string, { readonly list: boolean; readonly events: string[] }>();
    const add = (key: string, list: boolean, json: string) => {
      const entry = entries.get(key);
      if (entry) entry.events.push(json);
      else entries.set(key, { list, events: [json] });
    };
    // The trace id of the event before, per run log in this batch.
    const lastTrace = new Map<string, string>();
    for (const event of batch) {
      const logRunId = event.rootRunId ?? event.runId;
      const runKey = keys.auditRunLog(logRunId);
      let json: string;
      try {
        // In its own run's log an event's runId is the key's, and its trace id is usually the
        // event's before: both are left out there (readers put them back), which saves a third of
        // the log. A sub-agent's events keep their runId.
        json = JSON.stringify(
          forRunLog(event, event.runId === logRunId, lastTrace.get(runKey) === event.traceId),
        );
      } catch (error) {
        logger.warn(
          { err: error, runId: event.runId, eventType: event.type },
          'audit event not serializable',
        );
        continue;
      }
      // A sub-agent's events go to the top run's log too, so one timeline shows the whole tree.
      lastTrace.set(runKey, event.traceId);
      add(runKey, true, json);
      if (!expiring.has(runKey) || event.type === 'run.ended') runKeys.add(runKey);
      // Asking a person is the last thing a run does before it parks (a sub-agent's ask parks the tree).
      if (event.type === 'approval.requested') parked.add(runKey);
      // A channel's stream is its index of runs (who asked, how each ended); the decisions in
      // between are in each run's log, so they are not stored twice.
      if (event.type === 'run.started' || event.type === 'run.ended') {
        const channel = channelFor(event);
        if (channel !== undefined) add(keys.auditChannel(channel), false, JSON.stringify(forChannel(event)));
      }
      // An ended run will not log again here; a run paused for approval may resume in this process.
      if (event.type === 'run.ended' && event.outcome !== 'awaiting_approval')
        channelOfRun.delete(event.runId);
    }
    for (const [key, { list, events }] of entries) {
      const json = `[${events.join(',')}]`;
      if (list) {
        // A run's log is a list: a stream costs Redis about 4.7 KB even with one entry, and a
        // run waiting days for an approval should cost little more than its data.
        // RPUSH answers the new length: trim only a log past its cap (a run's guards keep it far
        // below), rather than sending an LTRIM with every batch.
        commands.push(
          redis
            .rpush(key, json)
            .then((length): Promise<unknown> | number =>
              length > runMaxLen ? redis.ltrim(key, -runMaxLen, -1) : length,
            ),
        );
      } else {
        commands.push(redis.xadd(key, 'MAXLEN', '~', channelMaxLen, '*', 'events', json));
      }
    }
    for (const runKey of runKeys) {
      commands.push(redis.expire(runKey, runTtl));
      expiring.add(runKey);
      if (expiring.size > MAX_KNOWN_RUNS) expiring.delete(expiring.values().next().value ?? runKey);
    }
    if (commands.length === 0) return;
    const results = await Promise.allSettled(commands);
    const failures = results.filter((result) => result.status === 'rejected');
    const first = failures[0];
    if (first)
      logger.warn({ err: first.reason, failed: failures.length }, 'audit events not written to Redis');
    for (const key of parked) await packRunLog(key);
  };

  // A run waiting for a person may wait for days: its log so far becomes one packed entry
  // (1.2 KB -> about 400 B). Later events append plain entries behind it as before.
  const packRunLog = async (key: string): Promise<void> => {
    try {
      const entries = await redis.lrangeBuffer(key, 0, -1);
      if (entries.length === 0 || (entries.length === 1 && entries[0] && isPacked(entries[0]))) return;
      const events = entries.flatMap((entry) => batchOf(unpackJson(entry)));
      await PACK_LOG_SCRIPT.run(redis, [key], [entries.length, packJson(events), runTtl]);
    } catch (error) {
      logger.warn({ err: error }, 'audit: could not pack a parked run log; it stays as it was');
    }
  };

  /** Sends the buffered events now; does not wait for Redis. */
  const sendBuffered = (): void => {
    // A flush that rides with a state write cancels the fallback timer: left running, it would
    // send the next step's first events alone, a round trip of their own.
    clearTimeout(timer);
    timer = undefined;
    if (dropped > 0) {
      logger.warn({ dropped }, 'audit buffer full; oldest events dropped');
      dropped = 0;
    }
    if (buffer.length === 0) return;
    const batch = buffer;
    buffer = [];
    const written = write(batch).catch(() => undefined);
    writing.add(written);
    void written.then(() => writing.delete(written));
  };

  return {
    record(event) {
      try {
        buffer.push(event);
        if (buffer.length > MAX_BUFFERED) {
          buffer.shift();
          dropped += 1;
        }
        if (timer !== undefined) return;
        // A pending flush must not keep a finished process alive; close() calls flush() itself.
        timer = setTimeout(sendBuffered, flushDelayMs).unref();
      } catch (error) {
        logger.warn({ err: error }, 'audit: could not record an event');
      }
    },
    // Only a caller that waits (shutdown, tests) pays for collecting what is in flight.
    flush: () => {
      sendBuffered();
      return Promise.all(writing).then(() => undefined);
    },
    flushNow: sendBuffered,
  };
}

/** One run's audit events, oldest first. */
export function readRunAudit(redis: Redis, keys: RedisKeys, runId: string): Promise<AuditEvent[]> {
  return wrapUnavailable('audit.readRun', async () => {
    const batches = await redis.lrangeBuffer(keys.auditRunLog(runId), 0, -1);
    if (batches.length > 0) {
      return batches.flatMap((entry) => {
        let trace = '';
        return eventsOf(unpackJson(entry)).map((stored) => {
          // Left out by the writer when it was the previous event's (forRunLog).
          const event =
            stored.runId === undefined || stored.traceId === undefined
              ? { ...stored, runId: stored.runId ?? runId, traceId: stored.traceId ?? trace }
              : stored;
          trace = event.traceId;
          return event;
        });
      });
    }
    // Runs recorded before the log was a list.
    const entries = await redis.xrange(keys.auditRun(runId), '-', '+');
    return entries.flatMap(([, fields]) => eventsOfEntry(fields));
  });
}

/**
 * The events of one stream entry: `events` (a JSON array, one entry per written batch) or `event`
 * (one event, as entries were written before batching).
 */
export function eventsOfEntry(fields: readonly string[]): AuditEvent[] {
  const many = fields.indexOf('events');
  const one = fields.indexOf('event');
  const raw = many >= 0 ? fields[many + 1] : one >= 0 ? fields[one + 1] : undefined;
  if (raw === undefined) return [];
  try {
    const value: unknown = JSON.parse(raw);
    return eventsOf(many >= 0 ? value : [value]);
  } catch {
    return [];
  }
}

function batchOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** The events of one written batch (a JSON array); written only by this sink from AuditEvents. */
function eventsOf(batch: unknown): AuditEvent[] {
  return batchOf(batch).flatMap((item) =>
    isRecord(item) && typeof item.type === 'string' ? [item as unknown as AuditEvent] : [],
  );
}

const ARGS_PREVIEW_CHARS = 200;

/**
 * One line per event for people reading a run's history (CLI, an admin command, a bug report).
 * Times are UTC (HH:MM:SS.mmm) so lines from different servers line up.
 */
export function formatTimeline(events: readonly AuditEvent[]): string[] {
  return events.map((event) => {
    const time = new Date(event.at).toISOString().slice(11, 23);
    // A sub-agent's events are indented under the run that delegated to it, so the tree shows.
    const depth = event.parentRunId ? event.runId.split('.').length - 1 : 0;
    const indent = '  '.repeat(depth);
    const parent = event.parentRunId ? ` parent=${event.parentRunId}` : '';
    return `${time} ${indent}${event.type} ${describeEvent(event)}${parent}`.trimEnd();
  });
}

function describeEvent(event: AuditEvent): string {
  switch (event.type) {
    case 'run.started': {
      const where = channelOfConversation(event.conversation);
      return `agent=${event.agent} by=${event.requestedBy} in ${where}`;
    }
    case 'model.called':
      return `${event.model} ${event.promptTokens}+${event.completionTokens} tokens ${event.latencyMs} ms (${plural(event.toolCalls, 'tool call')})`;
    case 'model.failed':
      return `${event.code}: ${event.error}`;
    case 'tool.proposed':
      return `${event.tool} ${preview(event.args)}`;
    case 'tool.arguments_rejected':
      return `${event.tool}: ${event.reason}`;
    case 'policy.verdict':
      return `${event.tool} ${event.verdict}: ${event.reason}`;
    case 'approval.requested':
      return `${event.tool} approval=${event.approvalId}`;
    case 'approval.decided':
      return `${event.tool} ${event.decision} by ${event.by}`;
    case 'tool.started':
      return event.tool;
    case 'tool.finished': {
      const error = event.error === undefined ? '' : `: ${event.error}`;
      return `${event.tool} ${event.status} ${event.durationMs} ms (${plural(event.attempts, 'attempt')})${error}`;
    }
    case 'tool.skipped':
      return `${event.tool}: ${event.reason}`;
    case 'guard.tripped':
      return `${event.guard}: ${event.reason}`;
    case 'run.ended': {
      const tokens = event.promptTokens + event.completionTokens;
      const reason = event.reason === undefined ? '' : `: ${event.reason}`;
      return `${event.outcome} after ${plural(event.iterations, 'model call')}, ${tokens} tokens${reason}`;
    }
    case 'delegation.refused':
      return `${event.tool}: ${event.reason}`;
    case 'output.checked':
      return `${event.check} ${event.verdict}${event.detail ? `: ${event.detail}` : ''}`;
    case 'plan.made':
      return `${event.next}${event.valid ? '' : ' (fallback)'}: ${event.why}`;
  }
}

function channelOfConversation(ref: ConversationRef): string {
  const channel = `${ref.platform}:${ref.tenantId}:${ref.channelId}`;
  return ref.threadId === null ? channel : `${channel} thread ${ref.threadId}`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function preview(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > ARGS_PREVIEW_CHARS ? `${text.slice(0, ARGS_PREVIEW_CHARS)}…` : text;
}

/**
 * What a channel's stream keeps of a run's start or end. The stream's key names the channel and the
 * run's log keeps the whole event, so a start keeps only the thread of its conversation, and neither
 * keeps the trace id: a run start costs its channel about 150 bytes instead of 290, for as long as
 * the stream keeps it (runs waiting for a person included).
 */
export function forChannel(event: AuditEvent): Record<string, unknown> {
  if (event.type === 'run.started') {
    const { traceId: _traceId, conversation, ...rest } = event;
    return { ...rest, threadId: conversation.threadId };
  }
  const { traceId: _traceId, ...rest } = event;
  return rest;
}

/** The event as its run's log stores it: copied only when something is left out. */
function forRunLog(event: AuditEvent, dropRunId: boolean, dropTrace: boolean): object {
  if (dropRunId && dropTrace) {
    const { runId: _runId, traceId: _traceId, ...rest } = event;
    return rest;
  }
  if (dropRunId) {
    const { runId: _runId, ...rest } = event;
    return rest;
  }
  if (dropTrace) {
    const { traceId: _traceId, ...rest } = event;
    return rest;
  }
  return event;
}
