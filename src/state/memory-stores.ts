import type { ChatMessage } from '../core/messages.ts';
import type { RunState } from '../core/run-state.ts';
import type { EventDedupe, RunStore, SessionStore } from '../core/stores.ts';

/**
 * In-process stores for the console and for a single process. They forget everything on exit;
 * the Redis stores replace them when runs must survive restarts and be shared between processes.
 */
export function createMemorySessionStore(maxMessages = 200): SessionStore {
  const sessions = new Map<string, ChatMessage[]>();
  return {
    load: async (key) => [...(sessions.get(key) ?? [])],
    append: async (key, messages) => {
      const next = [...(sessions.get(key) ?? []), ...messages];
      sessions.set(key, next.slice(-maxMessages));
    },
  };
}

export function createMemoryRunStore(): RunStore {
  const byApproval = new Map<string, RunState>();
  return {
    save: async (state) => {
      if (state.pendingApproval) byApproval.set(state.pendingApproval.approvalId, structuredClone(state));
    },
    findByApproval: async (id) => byApproval.get(id),
    claimApproval: async (id) => {
      const state = byApproval.get(id);
      byApproval.delete(id);
      return state;
    },
  };
}

export function createMemoryEventDedupe(maxRemembered = 10_000): EventDedupe {
  const seen = new Set<string>();
  return {
    claim: async (eventId) => {
      if (seen.has(eventId)) return false;
      seen.add(eventId);
      // Sets iterate in insertion order, so this forgets the oldest id first.
      const oldest = seen.values().next().value;
      if (seen.size > maxRemembered && oldest !== undefined) seen.delete(oldest);
      return true;
    },
  };
}
