import type { ChatMessage } from './messages.ts';
import type { RunState } from './run-state.ts';

/** Conversation history per conversation key. Redis-backed in production (src/state). */
export interface SessionStore {
  load(conversationKey: string): Promise<ChatMessage[]>;
  append(conversationKey: string, messages: readonly ChatMessage[]): Promise<void>;
}

/** Runs waiting for a person, found again by their approval id. */
export interface RunStore {
  save(state: RunState): Promise<void>;
  findByApproval(approvalId: string): Promise<RunState | undefined>;
  /**
   * Takes the pending approval exactly once: the first caller gets the run, every later caller
   * (a second click, another process) gets undefined and changes nothing.
   */
  claimApproval(approvalId: string): Promise<RunState | undefined>;
}

/** Drops platform events seen before (retries, several processes on one token). */
export interface EventDedupe {
  /** True the first time an event id is claimed, false after. */
  claim(eventId: string): Promise<boolean>;
}
