import { handleWhen, type IBackoff, type IBackoffFactory, type IRetryBackoffContext, retry } from 'cockatiel';
import OpenAI, { APIConnectionError, APIError, APIUserAbortError } from 'openai';
import type {
  ChatCompletion,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import { ModelCallError } from '../core/errors.ts';
import { DEFAULT_MODEL_CALL } from '../core/limits.ts';
import type { ChatMessage, ToolCallRequest } from '../core/messages.ts';
import {
  type Clock,
  type ModelClient,
  type ModelRequest,
  type ModelResponse,
  systemClock,
} from '../core/ports.ts';

export interface OpenAIModelClientOptions {
  readonly apiKey: string;
  /** Any OpenAI-compatible server; the SDK's default (api.openai.com) when absent. */
  readonly baseURL?: string | undefined;
  readonly clock?: Clock;
  /** Per-call timeout; each call is also cut short at the run's deadline. */
  readonly timeoutMs?: number;
  readonly maxAttempts?: number;
  readonly initialDelayMs?: number;
  readonly maxDelayMs?: number;
}

/**
 * The model port on the openai SDK's Chat Completions. The SDK's own retries are off: ours
 * honour Retry-After, stop at the run's deadline, and never retry a quota error or a 4xx.
 */
export function createOpenAIModelClient(options: OpenAIModelClientOptions): ModelClient {
  const clock = options.clock ?? systemClock;
  const timeoutMs = options.timeoutMs ?? DEFAULT_MODEL_CALL.timeoutMs;
  const maxAttempts = options.maxAttempts ?? DEFAULT_MODEL_CALL.maxAttempts;
  const backoff = retryAfterBackoff(
    options.initialDelayMs ?? DEFAULT_MODEL_CALL.initialDelayMs,
    options.maxDelayMs ?? DEFAULT_MODEL_CALL.maxDelayMs,
  );
  const client = new OpenAI({
    apiKey: options.apiKey,
    maxRetries: 0,
    ...(options.baseURL ? { baseURL: options.baseURL } : {}),
  });

  return {
    async complete(request, { signal, deadlineAt }) {
      let attempts = 0;
      let lastError: unknown;
      const policy = retry(
        handleWhen((error) => {
          const hint = retryAfterMs(error) ?? 0;
          return isRetryable(error) && clock.now() + hint < deadlineAt;
        }),
        { maxAttempts: Math.max(0, maxAttempts - 1), backoff },
      );
      try {
        return await policy.execute(async () => {
          attempts += 1;
          const remaining = deadlineAt - clock.now();
          if (remaining <= 0)
            throw new ModelCallError('the run deadline passed', { retryable: false, attempts });
          try {
            const completion = await client.chat.completions.create(toRequestBody(request), {
              signal: signal ?? null,
              timeout: Math.min(timeoutMs, remaining),
              maxRetries: 0,
            });
            return toModelResponse(completion);
          } catch (error) {
            lastError = error;
            throw error;
          }
        }, signal);
      } catch (error) {
        if (error instanceof ModelCallError) throw error;
        const cause = lastError ?? error;
        throw new ModelCallError(
          `${describe(cause)} (after ${attempts} attempt${attempts === 1 ? '' : 's'})`,
          {
            status: cause instanceof APIError ? cause.status : undefined,
            retryable: isRetryable(cause),
            attempts,
            cause,
          },
        );
      }
    },
  };
}

function isRetryable(error: unknown): boolean {
  if (error instanceof APIUserAbortError) return false;
  if (error instanceof APIConnectionError) return true;
  if (!(error instanceof APIError) || error.status === undefined) return false;
  if (error.status === 429) return error.code !== 'insufficient_quota';
  return error.status >= 500 || error.status === 408 || error.status === 409;
}

/** Retry-After as the server asked (seconds, an HTTP date, or OpenAI's retry-after-ms). */
function retryAfterMs(error: unknown): number | undefined {
  if (!(error instanceof APIError) || !error.headers) return undefined;
  const ms = Number(error.headers.get('retry-after-ms'));
  if (Number.isFinite(ms) && ms > 0) return ms;
  const header = error.headers.get('retry-after');
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Exponential backoff with jitter, unless the server said how long to wait. */
function retryAfterBackoff(initialMs: number, maxMs: number): IBackoffFactory<IRetryBackoffContext<unknown>> {
  const step = (attempt: number): IBackoffFactory<IRetryBackoffContext<unknown>> => ({
    next(context): IBackoff<IRetryBackoffContext<unknown>> {
      const hinted = 'error' in context.result ? retryAfterMs(context.result.error) : undefined;
      const ceiling = Math.min(maxMs, initialMs * 2 ** attempt);
      return {
        duration: hinted ?? ceiling / 2 + (Math.random() * ceiling) / 2,
        next: step(attempt + 1).next,
      };
    },
  });
  return step(0);
}

function describe(error: unknown): string {
  if (error instanceof APIError && error.status !== undefined) {
    const quota = error.code === 'insufficient_quota' ? ' (quota exhausted)' : '';
    return `HTTP ${error.status}${quota} from the model service: ${error.message}`;
  }
  if (error instanceof APIConnectionError) return `could not reach the model service: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

function toRequestBody(request: ModelRequest) {
  const tools: ChatCompletionTool[] = request.tools.map((tool) => ({
    type: 'function',
    function: {
      name: tool.name,
      description: tool.description,
      parameters: tool.parameters,
      strict: tool.strict,
    },
  }));
  return {
    model: request.model,
    messages: request.messages.map(toMessageParam),
    ...(tools.length > 0 ? { tools, parallel_tool_calls: true } : {}),
    ...(request.maxCompletionTokens ? { max_completion_tokens: request.maxCompletionTokens } : {}),
  };
}

function toMessageParam(message: ChatMessage): ChatCompletionMessageParam {
  switch (message.role) {
    case 'system':
    case 'user':
      return { role: message.role, content: message.content };
    case 'tool':
      return { role: 'tool', tool_call_id: message.toolCallId, content: message.content };
    case 'assistant':
      return {
        role: 'assistant',
        content: message.content,
        ...(message.toolCalls && message.toolCalls.length > 0
          ? {
              tool_calls: message.toolCalls.map((call) => ({
                id: call.id,
                type: 'function' as const,
                function: { name: call.name, arguments: call.arguments },
              })),
            }
          : {}),
      };
  }
}

function toModelResponse(completion: ChatCompletion): ModelResponse {
  const message = completion.choices[0]?.message;
  const toolCalls: ToolCallRequest[] = (message?.tool_calls ?? []).flatMap((call) =>
    call.type === 'function'
      ? [{ id: call.id, name: call.function.name, arguments: call.function.arguments }]
      : [],
  );
  return {
    content: message?.content ?? null,
    toolCalls,
    usage: {
      promptTokens: completion.usage?.prompt_tokens ?? 0,
      completionTokens: completion.usage?.completion_tokens ?? 0,
    },
    model: completion.model,
  };
}
