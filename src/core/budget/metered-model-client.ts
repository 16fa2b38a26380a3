import { BudgetExhaustedError } from '../errors.ts';
import { type ChatMessage, type TokenUsage, totalTokens, ZERO_USAGE } from '../messages.ts';
import type { Clock, Logger, ModelClient, ModelRequest, ToolSpec } from '../ports.ts';
import { type Amount, type BudgetScope, type ChargeTo, scopesFor } from './budget.ts';
import type { BudgetStore, GlobalPause, Reservation } from './budget-store.ts';
import type { PriceTable } from './pricing.ts';

export interface MeteredModelClientOptions {
  readonly inner: ModelClient;
  readonly store: BudgetStore;
  readonly prices: PriceTable;
  readonly clock: Clock;
  readonly logger: Logger;
  /** What a call without its own cap reserves for the reply. */
  readonly defaultMaxCompletionTokens: number;
  /** Told once when a settled call tripped the cost-spike breaker. */
  readonly onCostSpike?: (pause: GlobalPause) => void;
  /**
   * Holds a settlement until the next state write goes out, so both share one Redis round trip
   * (the app flushes it before every reservation, checkpoint and transition). Default: send now.
   */
  readonly deferSettlement?: (send: () => void) => void;
}

/**
 * A ModelClient that charges every call with a `charge` to the budgets of that channel, workspace
 * and person: it reserves the expected cost before the call (prompt estimate plus the reply cap)
 * and replaces the reservation with the reported usage after. Runs, sub-agents, the planner and
 * session compaction all call the model through it, so everything is charged the same way.
 */
export function createMeteredModelClient(options: MeteredModelClientOptions): ModelClient {
  const { inner, store, prices, clock, logger } = options;

  const settle = async (reservation: Reservation, model: string, usage: TokenUsage): Promise<void> => {
    const actual: Amount = { tokens: totalTokens(usage), microUsd: prices.costMicroUsd(model, usage) };
    try {
      const { tripped } = await store.settle(reservation, actual, clock.now());
      if (tripped) options.onCostSpike?.(tripped);
    } catch (error) {
      // The reply is in hand; an unsettled reservation only over-counts, never under-counts.
      logger.warn({ err: error }, 'could not settle a budget reservation; it stays counted in full');
    }
  };

  // A run passes the same conversation object on every call: its scopes are worked out once.
  const scopeCache = new WeakMap<ChargeTo['conversation'], Map<string, BudgetScope[]>>();
  const scopesOf = (charge: ChargeTo): BudgetScope[] => {
    let byUser = scopeCache.get(charge.conversation);
    if (!byUser) {
      byUser = new Map();
      scopeCache.set(charge.conversation, byUser);
    }
    let scopes = byUser.get(charge.userId);
    if (!scopes) {
      scopes = scopesFor(charge);
      byUser.set(charge.userId, scopes);
    }
    return scopes;
  };

  return {
    async complete(request, callOptions) {
      if (!callOptions.charge) return inner.complete(request, callOptions);
      const completionTokens = request.maxCompletionTokens ?? options.defaultMaxCompletionTokens;
      const promptTokens = estimatePromptTokens(request);
      const expected: Amount = {
        tokens: promptTokens + completionTokens,
        microUsd: prices.costMicroUsd(request.model, { promptTokens, completionTokens }),
      };
      const reserved = await store.reserve(scopesOf(callOptions.charge), expected, clock.now());
      if (!reserved.ok) throw new BudgetExhaustedError(reserved.exhaustion);
      let response: Awaited<ReturnType<ModelClient['complete']>>;
      try {
        response = await inner.complete(request, callOptions);
      } catch (error) {
        // What a failed call used is unknown and usually nothing: release the reservation.
        await settle(reserved.reservation, request.model, ZERO_USAGE);
        throw error;
      }
      // Not awaited, and held for the run's next write: it is flushed before the next reservation,
      // and Redis keeps the order of one connection's commands, so that reservation sees it.
      const send = () => void settle(reserved.reservation, response.model || request.model, response.usage);
      if (options.deferSettlement) options.deferSettlement(send);
      else send();
      return response;
    },
  };
}

const toolChars = new WeakMap<readonly ToolSpec[], number>();

/**
 * About four characters per token, plus a few tokens of framing per message. Only the reservation
 * uses it; what is charged in the end is the usage the model service reports.
 */
export function estimatePromptTokens(request: ModelRequest): number {
  let chars = 0;
  for (const message of request.messages) chars += messageChars(message) + 16;
  let specs = toolChars.get(request.tools);
  if (specs === undefined) {
    specs = request.tools.reduce((sum, tool) => sum + JSON.stringify(tool).length, 0);
    toolChars.set(request.tools, specs);
  }
  return Math.ceil((chars + specs) / 4);
}

function messageChars(message: ChatMessage): number {
  if (message.role !== 'assistant') return message.content.length;
  let chars = message.content?.length ?? 0;
  for (const call of message.toolCalls ?? []) chars += call.name.length + call.arguments.length + 16;
  return chars;
}
