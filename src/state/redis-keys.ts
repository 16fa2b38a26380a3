import type { ConversationRef } from '../core/conversation.ts';

/**
 * Every Redis key Steward writes is built here, under one configurable prefix (default `steward:`).
 *
 * | key kind          | builder                     | owner                       | Redis type    | TTL                                               |
 * | ----------------- | --------------------------- | --------------------------- | ------------- | ------------------------------------------------- |
 * | run               | run(runId)                  | redis-run-store.ts          | hash          | 30 days, refreshed on create and every transition |
 * | checkpoint        | checkpoint(runId)           | redis-run-store.ts          | string: a     | 30 days, set when written whole (a journal's      |
 * |                   |                             |                             | journal while | appends keep it)                                  |
 * |                   |                             |                             | running,      |                                                   |
 * |                   |                             |                             | packed JSON   |                                                   |
 * |                   |                             |                             | while waiting |                                                   |
 * | channel-runs      | channelRuns(channelKey)     | redis-run-store.ts          | sorted set    | 30 days (the run TTL), refreshed on create and on |
 * |                   |                             |                             |               | every move to a status that is not terminal       |
 * | session           | session(conversationKey)    | redis-session-store.ts      | list of JSON  | 7 days idle, refreshed on every append            |
 * | dedupe            | dedupe(eventId)             | redis-event-dedupe.ts       | string '1'    | 2 days (platforms retry within minutes)           |
 * | approval          | approval(approvalId)        | redis-approval-store.ts     | hash (the     | approval lifetime + 7 days, so a late click still |
 * |                   |                             |                             | decision)     | learns the outcome. Written when decided: while   |
 * |                   |                             |                             |               | it waits, an approval is its run's checkpoint's   |
 * |                   |                             |                             |               | pendingApproval (its id names the run). Earlier   |
 * |                   |                             |                             |               | releases' also hold content, expiry, run id       |
 * | approvals-pending | pendingApprovals(convKey)   | (earlier releases only)     | sorted set    | longest approval in it; no longer written: a      |
 * |                   |                             |                             |               | conversation's pending approvals are its waiting  |
 * |                   |                             |                             |               | runs' (channel-runs), so old sets only expire     |
 * | channel           | channel(channelKey)         | redis-channel-settings.ts   | hash          | none: admin settings persist until changed        |
 * | notes             | notes(channelKey)           | redis-notes-store.ts        | list of JSON  | none: notes are deliberate, and capped in number  |
 * | conv-active       | conversationActive(convKey) | redis-conversation-flags.ts | string '1'    | 7 days idle, refreshed on every markActive        |
 * | conv-takeover     | takenOver(convKey)          | redis-conversation-flags.ts | string userId | 30 days, so a forgotten take-over ends by itself  |
 * | message-ref       | messageRef(platformKey)     | redis-message-refs.ts       | string JSON   | set per use by the adapter: cards 8 days, status  |
 * |                   |                             |                             |               | messages 1 day                                    |
 * | audit-channel     | auditChannel(channelKey)    | redis-audit-sink.ts         | stream        | none: capped by MAXLEN ~ (10,000 entries); runs'  |
 * |                   |                             |                             |               | start and end events only (forChannel's shape)    |
 * | audit-run-log     | auditRunLog(runId)          | redis-audit-sink.ts         | list of JSON  | 30 days, like the run; capped at 5,000 batches    |
 * | audit-run         | auditRun(runId)             | (read only)                 | stream        | the format before audit-run-log; read, expiring   |
 * | audit-admin       | auditAdmin(tenantKey)       | redis-admin-audit.ts        | stream        | none: capped by MAXLEN ~ (10,000 entries)         |
 * | budget-limits     | budgetLimits(scopeKey)      | redis-budget-store.ts       | hash          | none: admin overrides persist until cleared       |
 * | budget-usage      | budgetUsage(scopeKey:bucket)| redis-budget-store.ts       | hash          | period end + 2 days (day) / + 7 days (month)      |
 * | rate              | rate(userScopeKey)          | redis-budget-store.ts       | sorted set    | one rate window (a minute)                        |
 * | spend             | spend('hourly')             | redis-budget-store.ts       | hash          | baseline hours + 2, refreshed on every spend      |
 * | pause             | pause('global')             | redis-breaker-store.ts      | hash          | none: a pause holds until an admin resumes        |
 * | run-ends          | runEnds('all' / 'bad')      | redis-breaker-store.ts      | sorted set    | two error-rate windows, refreshed on every end    |
 * | alert             | alert(name)                 | redis-breaker-store.ts      | string '1'    | one window: at most one alert per window          |
 *
 * The run queue (src/jobs) owns its own keys under the same prefix: conversation lanes
 * (`lane:…`, `lane-item:…`, see conversation-lanes.ts), the timers set (`timers`, run-timers.ts)
 * and BullMQ's (`bull:…`).
 *
 * Shape: `<prefix><kind>:<id>`. The id is always the last part and no kind name contains ':', so
 * one kind's `<kind>:` is never the start of another's: two different (kind, id) pairs can never
 * produce the same key, even when ids contain ':' (conversation keys always do).
 */
export const KEY_KINDS = Object.freeze({
  run: 'run',
  checkpoint: 'checkpoint',
  session: 'session',
  dedupe: 'dedupe',
  approval: 'approval',
  pendingApprovals: 'approvals-pending',
  channel: 'channel',
  notes: 'notes',
  auditChannel: 'audit-channel',
  auditRun: 'audit-run',
  auditRunLog: 'audit-run-log',
  channelRuns: 'channel-runs',
  conversationActive: 'conv-active',
  takenOver: 'conv-takeover',
  messageRef: 'message-ref',
  auditAdmin: 'audit-admin',
  budgetLimits: 'budget-limits',
  budgetUsage: 'budget-usage',
  rate: 'rate',
  spend: 'spend',
  pause: 'pause',
  runEnds: 'run-ends',
  alert: 'alert',
});

export type KeyKind = keyof typeof KEY_KINDS;

export type RedisKeys = { readonly prefix: string } & { readonly [K in KeyKind]: (id: string) => string };

export const DEFAULT_KEY_PREFIX = 'steward:';

/** The key builders for one prefix; the prefix should end with a separator such as ':'. */
export function createKeys(prefix: string = DEFAULT_KEY_PREFIX): RedisKeys {
  const build = (kind: KeyKind) => (id: string) => `${prefix}${KEY_KINDS[kind]}:${id}`;
  return Object.freeze({
    prefix,
    run: build('run'),
    checkpoint: build('checkpoint'),
    session: build('session'),
    dedupe: build('dedupe'),
    approval: build('approval'),
    pendingApprovals: build('pendingApprovals'),
    channel: build('channel'),
    notes: build('notes'),
    auditChannel: build('auditChannel'),
    auditRun: build('auditRun'),
    auditRunLog: build('auditRunLog'),
    channelRuns: build('channelRuns'),
    conversationActive: build('conversationActive'),
    takenOver: build('takenOver'),
    messageRef: build('messageRef'),
    auditAdmin: build('auditAdmin'),
    budgetLimits: build('budgetLimits'),
    budgetUsage: build('budgetUsage'),
    rate: build('rate'),
    spend: build('spend'),
    pause: build('pause'),
    runEnds: build('runEnds'),
    alert: build('alert'),
  });
}

/**
 * The channel a conversation happens in: platform:tenant:channel, without the thread, so that
 * settings and notes apply to every thread of a channel. Each part is escaped ('%' and ':') so
 * that ids containing ':' cannot make two different channels share a key.
 */
export function channelKeyOf(ref: Pick<ConversationRef, 'platform' | 'tenantId' | 'channelId'>): string {
  return [ref.platform, ref.tenantId, ref.channelId].map(escapePart).join(':');
}

function escapePart(part: string): string {
  return part.replaceAll('%', '%25').replaceAll(':', '%3A');
}
