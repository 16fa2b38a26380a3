import { type ButtonAction, conversationKey } from './conversation.ts';
import type { Clicker, ConversationServiceOptions, Handled, Refuse } from './conversation-service.ts';

type EscalationClick = ButtonAction & { readonly kind: 'escalation' };

/** A retried run gets this many times its previous limits. */
const RETRY_LIMITS_SCALE = 2;

/**
 * The buttons on an escalation card. Take over silences Steward in the thread until released;
 * Retry (admins) runs the request again with raised limits; Dismiss closes the card.
 */
export async function resolveEscalation(
  action: EscalationClick,
  clicker: Clicker,
  deps: ConversationServiceOptions & { readonly refuse: Refuse; readonly newId: () => string },
): Promise<Handled> {
  const { runs, flags, surface, clock, refuse } = deps;
  const run = await runs.get(action.runId);
  if (!run) return refuse(action, action.userId, 'That run no longer exists.');
  const key = run.conversationKey;
  const isAdmin = clicker.isPlatformAdmin === true || deps.admins(action.platform).includes(action.userId);
  const resolved = async (): Promise<Handled> => {
    await surface.showEscalationResolved?.(run.conversation, run.runId, {
      choice: action.choice,
      by: action.userId,
      at: clock.now(),
    });
    return { status: 'accepted', runId: run.runId };
  };

  switch (action.choice) {
    case 'take_over': {
      const owner = await flags.takenOverBy(key);
      if (owner) return refuse(action, action.userId, `${owner} has already taken this thread over.`);
      await flags.setTakenOver(key, action.userId);
      return resolved();
    }
    case 'release': {
      const owner = await flags.takenOverBy(key);
      if (!owner) return refuse(action, action.userId, 'Steward already answers in this thread.');
      if (owner !== action.userId && !isAdmin) {
        return refuse(
          action,
          action.userId,
          `Only ${owner} or an admin can hand this thread back to Steward.`,
        );
      }
      await flags.setTakenOver(key, null);
      return resolved();
    }
    case 'dismiss':
      return resolved();
    case 'retry': {
      if (!isAdmin) return refuse(action, action.userId, 'Only admins can retry a run with raised limits.');
      // The card is posted a moment before the run is recorded as ended (so a crash cannot lose it).
      if (run.status === 'running') {
        return refuse(action, action.userId, 'That run is still finishing; try again in a moment.');
      }
      if (run.status !== 'escalated' && run.status !== 'failed') {
        return refuse(
          action,
          action.userId,
          `That run is ${run.status.replace('_', ' ')}, so there is nothing to retry.`,
        );
      }
      const runId = deps.newId();
      await runs.create({
        runId,
        conversation: run.conversation,
        conversationKey: key,
        requestedBy: run.requestedBy,
        agent: run.agent,
        text: run.text,
        eventId: `retry:${run.runId}:${runId}`,
        createdAt: clock.now(),
        limitsScale: run.limitsScale * RETRY_LIMITS_SCALE,
      });
      await deps.queue.enqueue({
        kind: 'start',
        itemId: `start:${runId}`,
        runId,
        conversationKey: conversationKey(run.conversation),
      });
      await resolved();
      return { status: 'queued', runId };
    }
  }
}
