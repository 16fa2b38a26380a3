import type { Redis } from 'ioredis';
import { conversationKey } from '../core/conversation.ts';
import { isRecord } from '../core/is-record.ts';
import { type PendingApproval, type RunState, runIdOfApproval } from '../core/run-state.ts';
import type {
  ApprovalDecisionRecord,
  ApprovalStore,
  DecideResult,
  RunStore,
  StoredApproval,
} from '../core/stores.ts';
import { unpackJson } from './packed-json.ts';
import { defineScript, wrapUnavailable } from './redis-connection.ts';
import type { RedisKeys } from './redis-keys.ts';

export interface RedisApprovalStoreOptions {
  readonly redis: Redis;
  readonly keys: RedisKeys;
  /**
   * Where an approval's content is read from: the parked run's checkpoint, which holds it as its
   * pendingApproval (the run is checkpointed before its approval is created), and the channel's
   * index of runs that have not ended, which lists a conversation's waiting runs.
   */
  readonly runs: Pick<RunStore, 'loadCheckpoint' | 'activeInChannel'>;
  /** How long an approval is kept after it expires, so a late click still learns the outcome. */
  readonly retainSeconds?: number;
}

const DEFAULT_RETAIN_SECONDS = 7 * 24 * 60 * 60;

// KEYS: approval hash. ARGV: ttlMs, runId, expiresAt.
// Only for an approval whose id does not name its run (one asked for by an earlier release). Never
// overwrites: re-creating an id must not erase a decision already taken.
const CREATE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'runId', ARGV[2], 'expiresAt', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`;

// KEYS: approval hash. ARGV: decision, by, at, now, the content's expiresAt, ttlMs.
// The single place a decision is taken: whoever runs this first wins, every later caller reads it.
// A hash that already holds an expiry (earlier releases') is decided against it; otherwise the
// hash is first written here, with the decision.
const DECIDE_SCRIPT = `
local current = redis.call('HMGET', KEYS[1], 'decision', 'by', 'at', 'expiresAt')
if current[1] then return {'already_decided', current[1], current[2], current[3]} end
if tonumber(ARGV[4]) >= tonumber(current[4] or ARGV[5]) then return {'expired'} end
redis.call('HSET', KEYS[1], 'decision', ARGV[1], 'by', ARGV[2], 'at', ARGV[3])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[6]) end
return {'decided'}
`;

const createScript = defineScript(CREATE_SCRIPT);
const decideScript = defineScript(DECIDE_SCRIPT);

/** Fields read back: all but the decision's exist only in hashes of approvals of earlier releases. */
const FIELDS = ['decision', 'by', 'at', 'runId', 'expiresAt', 'approval'] as const;

interface ApprovalHash {
  readonly decided: ApprovalDecisionRecord | null;
  readonly runId: string | undefined;
  readonly expiresAt: number | undefined;
  /** The content stored in the hash by earlier releases (packed or plain JSON). */
  readonly legacy: Buffer | undefined;
}

/**
 * A waiting approval costs no key of its own: its id names its top run (newApprovalId), whose
 * checkpoint (saved before the approval is created) holds it whole, expiry included, as its
 * pendingApproval. Its hash is written when it is decided, by one Lua script, and keeps the decision
 * for the approval's lifetime + 7 days, so a late click learns who decided. A conversation's
 * pending approvals are its waiting runs'.
 *
 * Approvals of earlier releases (UUID ids) have a hash from the start with their expiry and, in an
 * `approval` field, their content (packed or plain JSON), plus an entry in the conversation's
 * sorted set of pending ids (approvals-pending): they still read and decide, and the sets expire.
 */
export function createRedisApprovalStore(options: RedisApprovalStoreOptions): ApprovalStore {
  const { redis, keys, runs } = options;
  const retainMs = (options.retainSeconds ?? DEFAULT_RETAIN_SECONDS) * 1000;
  // Relative to the approval's own times, so a skewed caller clock cannot expire it early.
  const ttlOf = (approval: PendingApproval) =>
    Math.max(approval.expiresAt - approval.createdAt, 0) + retainMs;

  const readHash = async (approvalId: string): Promise<ApprovalHash> => {
    const values = await redis.hmgetBuffer(keys.approval(approvalId), ...FIELDS);
    const [decision, by, at, runId, expiresAt, legacy] = values.map((value) => value ?? undefined);
    return {
      decided: toDecision(decision?.toString(), by?.toString(), at?.toString()),
      runId: runId?.toString(),
      expiresAt: expiresAt === undefined ? undefined : Number(expiresAt.toString()),
      legacy,
    };
  };

  /**
   * The approval's hash and content: from an old hash itself, else from its top run's checkpoint.
   * An id that names its run has that checkpoint read beside the hash, in the same round trip.
   */
  const read = async (
    approvalId: string,
  ): Promise<{ readonly hash: ApprovalHash; readonly approval: PendingApproval | undefined }> => {
    const named = runIdOfApproval(approvalId);
    const [hash, checkpoint] = await Promise.all([
      readHash(approvalId),
      named === undefined ? undefined : runs.loadCheckpoint(named),
    ]);
    if (hash.legacy !== undefined) return { hash, approval: parseApproval(hash.legacy) };
    const state =
      named !== undefined || hash.runId === undefined ? checkpoint : await runs.loadCheckpoint(hash.runId);
    return { hash, approval: state === undefined ? undefined : findPending(state, approvalId) };
  };

  return {
    create: (approval) =>
      wrapUnavailable('approval.create', async () => {
        // Nothing to write: the run's checkpoint holds it, and its id says which run that is.
        if (runIdOfApproval(approval.approvalId) === approval.runId) return;
        await createScript.run(
          redis,
          [keys.approval(approval.approvalId)],
          [ttlOf(approval), approval.runId, approval.expiresAt],
        );
      }),

    get: (approvalId) =>
      wrapUnavailable('approval.get', async (): Promise<StoredApproval | undefined> => {
        const { hash, approval } = await read(approvalId);
        if (hash.decided !== null) return { approval, decided: hash.decided };
        // Undecided, and its run does not hold it (the run ended or moved on, its checkpoint
        // expired, or the id is not one): nothing can resume from it, so it is as good as gone.
        return approval === undefined ? undefined : { approval, decided: null };
      }),

    decide: (approvalId, decision, now) =>
      wrapUnavailable('approval.decide', async (): Promise<DecideResult> => {
        const { hash, approval } = await read(approvalId);
        // An approval's content never changes while it is pending, so reading it (and its expiry)
        // before the script is safe; without it there is nothing a decision could resume.
        if (hash.decided === null && approval === undefined) return { status: 'not_found' };
        const reply = await decideScript.run(
          redis,
          [keys.approval(approvalId)],
          [
            decision.decision,
            decision.by,
            decision.at,
            now,
            approval?.expiresAt ?? hash.expiresAt ?? 0,
            approval === undefined ? retainMs : ttlOf(approval),
          ],
        );
        if (!Array.isArray(reply)) throw new Error('approval.decide: unexpected reply');
        const [status, a, b, c] = reply.map((item) => (item === null ? null : String(item)));
        switch (status) {
          case 'decided':
            if (approval === undefined) throw new Error(`approval ${approvalId}: decided without content`);
            return { status: 'decided', approval };
          case 'already_decided': {
            const decided = toDecision(a ?? undefined, b ?? undefined, c ?? undefined);
            if (decided === null) throw new Error(`approval ${approvalId}: stored decision is unreadable`);
            return { status: 'already_decided', decided };
          }
          case 'expired':
            return { status: 'expired' };
          default:
            throw new Error(`approval.decide: unexpected reply ${String(status)}`);
        }
      }),

    listPending: (conversation, now) =>
      wrapUnavailable('approval.listPending', async () => {
        const key = conversationKey(conversation);
        const waiting = (await runs.activeInChannel(conversation)).filter(
          (run) => run.conversationKey === key && run.status === 'awaiting_approval',
        );
        const parked = await Promise.all(waiting.map((run) => runs.loadCheckpoint(run.runId)));
        const candidates = parked.flatMap((state) => {
          const approval = state && waitedOn(state);
          return approval && now < approval.expiresAt ? [approval] : [];
        });
        const hashes = await Promise.all(candidates.map((approval) => readHash(approval.approvalId)));
        return candidates
          .filter((_, i) => hashes[i]?.decided === null)
          .sort((a, b) => a.createdAt - b.createdAt);
      }),
  };
}

/** The approval a parked run (or a sub-agent inside it) waits on, if it is `approvalId`. */
function findPending(state: RunState, approvalId: string): PendingApproval | undefined {
  const pending = waitedOn(state);
  return pending?.approvalId === approvalId ? pending : undefined;
}

/** The approval a parked run waits on: its own (a parent keeps its sub-agent's), else the sub-agent's. */
function waitedOn(state: RunState): PendingApproval | undefined {
  return state.pendingApproval ?? (state.child ? waitedOn(state.child.state) : undefined);
}

function parseApproval(raw: Buffer): PendingApproval {
  const value = unpackJson(raw);
  if (!isRecord(value) || typeof value.approvalId !== 'string')
    throw new Error('stored approval is unreadable');
  return value as unknown as PendingApproval;
}

function toDecision(
  decision: string | undefined,
  by: string | undefined,
  at: string | undefined,
): ApprovalDecisionRecord | null {
  if ((decision !== 'approve' && decision !== 'reject') || typeof by !== 'string') return null;
  return { decision, by, at: Number(at) };
}
