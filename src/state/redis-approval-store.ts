import type { Redis } from 'ioredis';
import { conversationKey } from '../core/conversation.ts';
import { isRecord } from '../core/is-record.ts';
import type { PendingApproval } from '../core/run-state.ts';
import type { ApprovalDecisionRecord, ApprovalStore, DecideResult, StoredApproval } from '../core/stores.ts';
import { packJson, unpackJson } from './packed-json.ts';
import { defineScript, wrapUnavailable } from './redis-connection.ts';
import type { RedisKeys } from './redis-keys.ts';

export interface RedisApprovalStoreOptions {
  readonly redis: Redis;
  readonly keys: RedisKeys;
  /** How long an approval is kept after it expires, so a late click still learns the outcome. */
  readonly retainSeconds?: number;
}

const DEFAULT_RETAIN_SECONDS = 7 * 24 * 60 * 60;

// KEYS: approval hash, pending set. ARGV: ttlMs, createdAt, approvalId, packed approval, expiresAt, conversationKey.
// Never overwrites: re-creating an id must not erase a decision already taken.
const CREATE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'approval', ARGV[4], 'expiresAt', ARGV[5], 'conversationKey', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[2], ARGV[1]) end
return 1
`;

// KEYS: approval hash, pending set. ARGV: decision, by, at, now, approvalId.
// The single place a decision is taken: whoever runs this first wins, every later caller reads it.
const DECIDE_SCRIPT = `
local current = redis.call('HMGET', KEYS[1], 'expiresAt', 'decision', 'by', 'at')
if not current[1] then return {'not_found'} end
if current[2] then return {'already_decided', current[2], current[3], current[4]} end
if tonumber(ARGV[4]) >= tonumber(current[1]) then
  redis.call('ZREM', KEYS[2], ARGV[5])
  return {'expired'}
end
redis.call('HSET', KEYS[1], 'decision', ARGV[1], 'by', ARGV[2], 'at', ARGV[3])
redis.call('ZREM', KEYS[2], ARGV[5])
return {'decided'}
`;

const createScript = defineScript(CREATE_SCRIPT);
const decideScript = defineScript(DECIDE_SCRIPT);

/**
 * Approvals as Redis hashes, decided by one Lua script, with a sorted set of pending ids per
 * conversation. The approval itself is packed (packed-json.ts): it may wait for days.
 */
export function createRedisApprovalStore(options: RedisApprovalStoreOptions): ApprovalStore {
  const { redis, keys } = options;
  const retainMs = (options.retainSeconds ?? DEFAULT_RETAIN_SECONDS) * 1000;
  const pendingKey = (approval: PendingApproval) =>
    keys.pendingApprovals(conversationKey(approval.conversation));

  return {
    create: (approval) =>
      wrapUnavailable('approval.create', async () => {
        // Relative to the approval's own times, so a skewed caller clock cannot expire it early.
        const ttlMs = Math.max(approval.expiresAt - approval.createdAt, 0) + retainMs;
        await createScript.run(
          redis,
          [keys.approval(approval.approvalId), pendingKey(approval)],
          [
            ttlMs,
            approval.createdAt,
            approval.approvalId,
            packJson(approval),
            approval.expiresAt,
            conversationKey(approval.conversation),
          ],
        );
      }),

    get: (approvalId) =>
      wrapUnavailable('approval.get', async () => {
        const [raw, decision, by, at] = await redis.hmgetBuffer(
          keys.approval(approvalId),
          'approval',
          'decision',
          'by',
          'at',
        );
        if (!raw) return undefined;
        const stored: StoredApproval = {
          approval: parseApproval(raw),
          decided: toDecision(decision?.toString(), by?.toString(), at?.toString()),
        };
        return stored;
      }),

    decide: (approvalId, decision, now) =>
      wrapUnavailable('approval.decide', async (): Promise<DecideResult> => {
        const key = keys.approval(approvalId);
        // An approval's conversation and content never change, so reading them before the script is
        // safe, and lets the script declare every key it touches.
        const [conversation, raw] = await redis.hmgetBuffer(key, 'conversationKey', 'approval');
        if (!conversation || !raw) return { status: 'not_found' };
        const reply = await decideScript.run(
          redis,
          [key, keys.pendingApprovals(conversation.toString())],
          [decision.decision, decision.by, decision.at, now, approvalId],
        );
        if (!Array.isArray(reply)) throw new Error('approval.decide: unexpected reply');
        const [status, a, b, c] = reply.map((item) => (item === null ? null : String(item)));
        switch (status) {
          case 'decided':
            return { status: 'decided', approval: parseApproval(raw) };
          case 'already_decided': {
            const decided = toDecision(a ?? null, b ?? null, c ?? null);
            if (decided === null) throw new Error(`approval ${approvalId}: stored decision is unreadable`);
            return { status: 'already_decided', decided };
          }
          case 'expired':
            return { status: 'expired' };
          default:
            return { status: 'not_found' };
        }
      }),

    listPending: (convKey, now) =>
      wrapUnavailable('approval.listPending', async () => {
        const setKey = keys.pendingApprovals(convKey);
        const ids = await redis.zrange(setKey, 0, -1);
        if (ids.length === 0) return [];
        const pipeline = redis.pipeline();
        for (const id of ids) pipeline.hmgetBuffer(keys.approval(id), 'approval', 'decision', 'expiresAt');
        const replies = (await pipeline.exec()) ?? [];
        const pending: PendingApproval[] = [];
        const stale: string[] = [];
        replies.forEach(([error, value], index) => {
          if (error) throw error;
          const id = ids[index] as string;
          const [raw, decided, expiresAt] = Array.isArray(value) ? value : [];
          // Gone (TTL) or decided: it can never be pending again, so drop it from the set.
          if (!Buffer.isBuffer(raw) || Buffer.isBuffer(decided)) stale.push(id);
          else if (now < Number(String(expiresAt))) pending.push(parseApproval(raw));
        });
        if (stale.length > 0) await redis.zrem(setKey, ...stale);
        return pending;
      }),
  };
}

function parseApproval(raw: Buffer): PendingApproval {
  const value = unpackJson(raw);
  if (!isRecord(value) || typeof value.approvalId !== 'string')
    throw new Error('stored approval is unreadable');
  return value as unknown as PendingApproval;
}

function toDecision(
  decision: string | null | undefined,
  by: string | null | undefined,
  at: string | null | undefined,
): ApprovalDecisionRecord | null {
  if ((decision !== 'approve' && decision !== 'reject') || typeof by !== 'string') return null;
  return { decision, by, at: Number(at) };
}
