/**
 * The conversation as the core keeps it: the Chat Completions message shape, written out here so
 * the core does not depend on the openai SDK's types. It is plain JSON, so a run can be
 * checkpointed and resumed anywhere.
 */
export interface ToolCallRequest {
  readonly id: string;
  readonly name: string;
  /** Raw JSON text as the model produced it; may be invalid. */
  readonly arguments: string;
}

export type ChatMessage =
  | { readonly role: 'system'; readonly content: string }
  | { readonly role: 'user'; readonly content: string }
  | {
      readonly role: 'assistant';
      readonly content: string | null;
      readonly toolCalls?: readonly ToolCallRequest[];
    }
  | { readonly role: 'tool'; readonly toolCallId: string; readonly content: string };

export interface TokenUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
}

export const ZERO_USAGE: TokenUsage = Object.freeze({ promptTokens: 0, completionTokens: 0 });

export function addUsage(a: TokenUsage, b: TokenUsage): TokenUsage {
  return {
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
  };
}

export function totalTokens(usage: TokenUsage): number {
  return usage.promptTokens + usage.completionTokens;
}
