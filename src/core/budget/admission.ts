import type { ButtonAction, IncomingMessage } from '../conversation.ts';
import type { Clock, Logger } from '../ports.ts';
import type { EventDedupe } from '../stores.ts';
import type { BudgetRefusal, Surface } from '../surface.ts';
import {
  describeExhaustion,
  describePeriod,
  formatAmount,
  limitKey,
  periodBucket,
  raiseCommand,
  scopesFor,
} from './budget.ts';
import type { BudgetStore, GlobalPause } from './budget-store.ts';

/** What the front door needs to keep budgets: the store and the per-person message rate. */
export interface BudgetGate {
  readonly store: BudgetStore;
  readonly userMessagesPerMinute: number;
}

export type AdmissionVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly text: string; readonly refusal?: BudgetRefusal };

export function globalPauseNotice(pause: GlobalPause): string {
  const why = pause.by === 'cost_spike' ? `${pause.reason}.` : `an admin paused it (${pause.reason}).`;
  return `Steward is paused everywhere: ${why} An admin can turn it back on with \`/steward resume --global\`.`;
}

/** Global pause, exhausted budgets and the sender's message rate, checked in one step. */
export async function admitMessage(
  gate: BudgetGate,
  message: IncomingMessage,
  now: number,
): Promise<AdmissionVerdict> {
  const scopes = scopesFor({ conversation: message, userId: message.userId });
  const user = scopes[2];
  if (!user) throw new Error('scopesFor returned no user scope');
  const admission = await gate.store.admit({
    scopes,
    user,
    eventId: message.eventId,
    userMessagesPerMinute: gate.userMessagesPerMinute,
    now,
  });
  switch (admission.status) {
    case 'admitted':
      return { ok: true };
    case 'paused':
      return { ok: false, text: globalPauseNotice(admission.pause) };
    case 'rate_limited': {
      const seconds = Math.max(Math.ceil(admission.retryAfterMs / 1000), 1);
      return {
        ok: false,
        text: `You are sending me messages faster than I take them (${admission.perMinute} a minute). Please slow down: try again in ${seconds}s.`,
      };
    }
    case 'exhausted': {
      const { exhaustion } = admission;
      const text = describeExhaustion(exhaustion, message.platform, now);
      return {
        ok: false,
        text,
        refusal: {
          text,
          limit: { scope: exhaustion.scope, unit: exhaustion.unit, period: exhaustion.period },
        },
      };
    }
  }
}

export interface BudgetRequestDeps {
  readonly gate: BudgetGate;
  readonly surface: Surface;
  readonly dedupe: EventDedupe;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly admins: (platform: string) => readonly string[];
}

/**
 * "Request more": pings the admins in the conversation once per person, limit and period, so a
 * frustrated person clicking again does not page anyone twice.
 */
export async function requestMoreBudget(
  action: ButtonAction & { readonly kind: 'budget_request' },
  deps: BudgetRequestDeps,
): Promise<{ readonly posted: boolean; readonly text: string }> {
  const { limit } = action;
  const now = deps.clock.now();
  const scopes = scopesFor({ conversation: action, userId: action.userId });
  const scope = scopes.find((candidate) => candidate.kind === limit.scope);
  if (!scope) throw new Error(`no ${limit.scope} scope`);
  const claim = `budget-request:${scope.kind}:${scope.id}:${limitKey(limit.unit, limit.period)}:${periodBucket(limit.period, now)}:${action.userId}`;
  if (!(await deps.dedupe.claim(claim))) {
    return {
      posted: false,
      text: 'You already asked the admins for more of this budget; they were pinged then.',
    };
  }
  const [report] = await deps.gate.store.report([scope], now);
  const usage = report?.limits.find((entry) => entry.key === limitKey(limit.unit, limit.period));
  const figures =
    usage && usage.limit !== null
      ? ` (${formatAmount(limit.unit, usage.used)} of ${formatAmount(limit.unit, usage.limit)} used)`
      : '';
  const exhaustion = { ...limit, used: 0, limit: 0, resetsAt: 0 };
  const whose =
    limit.scope === 'user'
      ? `their own`
      : `this ${limit.scope === 'workspace' && action.platform === 'discord' ? 'server' : limit.scope}'s`;
  const text = [
    `asks for more budget: ${whose} ${describePeriod(limit.period)} ${limit.unit === 'usd' ? 'spending' : 'token'} limit is used up${figures}.`,
    `Admins can raise it with \`${raiseCommand(exhaustion)}\`.`,
  ].join(' ');
  const request = { requestedBy: action.userId, text, mentions: deps.admins(action.platform) };
  if (deps.surface.postAdminRequest) await deps.surface.postAdminRequest(action, request);
  else await deps.surface.postNotice(action, `${action.userId} ${text}`);
  deps.logger.info({ userId: action.userId, limit }, 'budget increase requested');
  return { posted: true, text: 'I asked the admins for more budget.' };
}
