import type { ConversationRef } from './conversation.ts';
import type { ApprovalDecision } from './run-context.ts';

/**
 * One unit of work for a conversation. Items of one conversation are handled one at a time in
 * the order they were enqueued; items of different conversations run side by side.
 */
export type WorkItem =
  | {
      readonly kind: 'start';
      readonly itemId: string;
      readonly runId: string;
      readonly conversationKey: string;
      /**
       * The run's conversation, when the enqueuer knows it: the worker can then move the run to
       * running and read what it starts from in one round trip, without reading the record first.
       */
      readonly conversation?: ConversationRef;
    }
  | {
      readonly kind: 'resume';
      readonly itemId: string;
      readonly runId: string;
      readonly conversationKey: string;
      readonly decision: ApprovalDecision;
    }
  | {
      /** The approval's expiry passed: end the run if it is still waiting. */
      readonly kind: 'expire';
      readonly itemId: string;
      readonly runId: string;
      readonly conversationKey: string;
      readonly approvalId: string;
    };

export interface EnqueueOptions {
  /** Do not start before this many milliseconds have passed (used for approval expiry). */
  readonly delayMs?: number;
}

/** The producer side of the run queue (src/jobs implements it on BullMQ). */
export interface RunQueue {
  enqueue(item: WorkItem, options?: EnqueueOptions): Promise<void>;
}

/**
 * The consumer side: called by a worker for each item, in conversation order. `recovering` is
 * true when a previous worker took this item and died before finishing it, so the handler must
 * continue from the run's checkpoint rather than start over.
 */
export interface WorkContext {
  readonly recovering: boolean;
  readonly signal: AbortSignal;
  /**
   * Takes the item's last write (a run's ending) instead of the handler awaiting it: the worker
   * sends the lane's "finished, next please" in the same round trip and waits for both before the
   * next item, reporting a failed write. Without it (a direct caller) the handler awaits the write.
   */
  readonly settleLast?: (write: Promise<unknown>) => void;
}

export type WorkHandler = (item: WorkItem, context: WorkContext) => Promise<void>;
