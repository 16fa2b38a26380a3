import type { ChargeTo } from './budget/budget.ts';
import type { ConversationRef } from './conversation.ts';
import type { ChatMessage } from './messages.ts';
import type { PendingApproval, RunOutcome, RunState } from './run-state.ts';

/**
 * The state ports. src/state implements them on Redis (and in memory for unit tests); the core
 * only sees these interfaces. Every method may reject with StateUnavailableError when the store
 * cannot be reached; callers turn that into a clear message, never a crash.
 */

/** Conversation history per conversation key, kept under a token budget by the implementation. */
export interface SessionStore {
  load(conversationKey: string): Promise<ChatMessage[]>;
  /** `charge`: whose budget pays if the append makes the store summarize older turns. */
  append(conversationKey: string, messages: readonly ChatMessage[], charge?: ChargeTo): Promise<void>;
}

export type RunStatus =
  | 'queued'
  | 'running'
  | 'awaiting_approval'
  | 'completed'
  | 'escalated'
  | 'failed'
  | 'cancelled';

export const TERMINAL_RUN_STATUSES: readonly RunStatus[] = ['completed', 'escalated', 'failed', 'cancelled'];

/** The legal moves of a run; anything else is refused by RunStore.transition. */
export const RUN_TRANSITIONS: Readonly<Record<RunStatus, readonly RunStatus[]>> = {
  queued: ['running', 'failed', 'cancelled'],
  running: ['awaiting_approval', 'completed', 'escalated', 'failed', 'cancelled'],
  awaiting_approval: ['running', 'cancelled', 'escalated', 'failed'],
  completed: [],
  escalated: [],
  failed: [],
  cancelled: [],
};

/** What a run is, as opposed to where it is (the checkpoint). */
export interface RunRecord {
  readonly runId: string;
  readonly conversation: ConversationRef;
  readonly conversationKey: string;
  readonly requestedBy: string;
  readonly agent: string;
  /** The person's message that started the run. */
  readonly text: string;
  readonly eventId: string;
  readonly status: RunStatus;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Set when the run ends. */
  readonly outcome: RunOutcome | null;
  /** Multiplies the agent's limits (a retry after escalation runs with raised limits). Default 1. */
  readonly limitsScale: number;
}

export type NewRun = Omit<RunRecord, 'status' | 'updatedAt' | 'outcome' | 'limitsScale'> & {
  readonly limitsScale?: number;
};

export interface RunStore {
  /** Creates the record in state `queued`. */
  create(run: NewRun): Promise<void>;
  get(runId: string): Promise<RunRecord | undefined>;
  /**
   * Moves a run from its current status to `to` in one atomic step, checked against
   * RUN_TRANSITIONS. Rejects with IllegalTransitionError (carrying the actual status) and changes
   * nothing when the move is not legal from the run's current status.
   */
  transition(
    runId: string,
    to: RunStatus,
    patch?: {
      outcome?: RunOutcome;
      /** The run's conversation when the caller has it, which saves the store a read. */
      conversation?: ConversationRef;
    },
  ): Promise<RunRecord>;
  /** Runs of a channel (any thread) that have not ended, oldest first. */
  activeInChannel(channel: ConversationRef): Promise<RunRecord[]>;
  /** The latest checkpoint overwrites the previous one. */
  saveCheckpoint(state: RunState): Promise<void>;
  loadCheckpoint(runId: string): Promise<RunState | undefined>;
}

export interface ApprovalDecisionRecord {
  readonly decision: 'approve' | 'reject';
  readonly by: string;
  readonly at: number;
}

/**
 * A pending approval always has its content. A decided one may not any more: its run moved on
 * from it, and all a late click needs is who decided.
 */
export type StoredApproval =
  | { readonly approval: PendingApproval; readonly decided: null }
  | { readonly approval: PendingApproval | undefined; readonly decided: ApprovalDecisionRecord };

export type DecideResult =
  | { readonly status: 'decided'; readonly approval: PendingApproval }
  | { readonly status: 'already_decided'; readonly decided: ApprovalDecisionRecord }
  | { readonly status: 'expired' }
  | { readonly status: 'not_found' };

export interface ApprovalStore {
  /**
   * Called once the run's checkpoint holding the approval (as its pendingApproval) is saved: the
   * Redis store reads the approval from there, and writes nothing here when the id names the run.
   */
  create(approval: PendingApproval): Promise<void>;
  get(approvalId: string): Promise<StoredApproval | undefined>;
  /**
   * Decides a pending approval in one atomic step: exactly one caller, in any process, gets
   * `decided`; every later caller learns who decided first. An approval past its expiresAt is
   * `expired` (the `now` argument is the caller's clock, so tests can move time).
   */
  decide(approvalId: string, decision: ApprovalDecisionRecord, now: number): Promise<DecideResult>;
  /** Pending (undecided, unexpired) approvals of one conversation, oldest first. */
  listPending(conversation: ConversationRef, now: number): Promise<PendingApproval[]>;
}

/** Drops platform events seen before (retries, several processes on one token). */
export interface EventDedupe {
  /** True the first time an event id is claimed, by any process; false after. */
  claim(eventId: string): Promise<boolean>;
}

export interface ChannelSettings {
  /** The agent that answers here; null for the config's default. */
  readonly agent: string | null;
  /** Tools allowed here; null when every agent tool is allowed. */
  readonly toolAllowlist: readonly string[] | null;
  readonly paused: boolean;
}

export const DEFAULT_CHANNEL_SETTINGS: ChannelSettings = Object.freeze({
  agent: null,
  toolAllowlist: null,
  paused: false,
});

/** Settings per channel (platform + tenant + channel, not thread). */
export interface ChannelSettingsStore {
  get(channel: ConversationRef): Promise<ChannelSettings>;
  update(channel: ConversationRef, patch: Partial<ChannelSettings>): Promise<ChannelSettings>;
}

export interface Note {
  readonly text: string;
  readonly by: string;
  readonly at: number;
}

export type AddNoteResult =
  | { readonly status: 'added'; readonly count: number }
  | { readonly status: 'full'; readonly limit: number };

/** Short notes an agent keeps per channel, capped in number and size by the implementation. */
export interface NotesStore {
  add(channel: ConversationRef, note: Note): Promise<AddNoteResult>;
  list(channel: ConversationRef): Promise<Note[]>;
}

/** Per-conversation (thread) flags that change how Steward treats new messages there. */
export interface ConversationFlagsStore {
  /** Marks a conversation Steward takes part in, so follow-ups need no mention (expires when idle). */
  markActive(conversationKey: string): Promise<void>;
  isActive(conversationKey: string): Promise<boolean>;
  /** The person who took the conversation over, or null. Steward stays quiet while it is set. */
  takenOverBy(conversationKey: string): Promise<string | null>;
  setTakenOver(conversationKey: string, userId: string | null): Promise<void>;
}

/**
 * Where a platform message lives (a card's channel and timestamp), so any process can update the
 * message a run posted: the approval card after a click, the status line as tools run.
 */
export interface MessageRefStore {
  put(key: string, value: string, ttlSeconds: number): Promise<void>;
  get(key: string): Promise<string | undefined>;
  delete(key: string): Promise<void>;
}
