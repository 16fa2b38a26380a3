import type { AuditEvent } from './audit-events.ts';
import type { ChargeTo } from './budget/budget.ts';
import type { ChatMessage, TokenUsage, ToolCallRequest } from './messages.ts';

/** The slice of pino the core uses; pino's Logger satisfies it. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A function the model may call, as the model API describes it. */
export interface ToolSpec {
  readonly name: string;
  readonly description: string;
  readonly parameters: Record<string, unknown>;
  readonly strict: boolean;
}

export interface ModelRequest {
  readonly model: string;
  readonly messages: readonly ChatMessage[];
  readonly tools: readonly ToolSpec[];
  /** Cap on the reply's tokens (sent as max_completion_tokens); budgets reserve this much. */
  readonly maxCompletionTokens?: number;
}

export interface ModelResponse {
  readonly content: string | null;
  readonly toolCalls: readonly ToolCallRequest[];
  readonly usage: TokenUsage;
  readonly model: string;
}

export interface ModelCallOptions {
  readonly signal?: AbortSignal;
  /** Epoch ms after which no attempt may start or continue. */
  readonly deadlineAt: number;
  /** Who pays: a metered client reserves against their budgets before the call. */
  readonly charge?: ChargeTo;
}

/** The model port. src/llm implements it on the openai SDK; tests point that at a fake server. */
export interface ModelClient {
  complete(request: ModelRequest, options: ModelCallOptions): Promise<ModelResponse>;
}

/** Where audit events go. Implementations must not throw into the run. */
export interface AuditSink {
  record(event: AuditEvent): void;
}
