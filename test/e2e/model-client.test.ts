import { afterEach, describe, expect, it } from 'vitest';
import { ModelCallError } from '../../src/core/errors.ts';
import { createOpenAIModelClient } from '../../src/llm/openai-model-client.ts';
import { type ScriptedOpenAI, startScriptedOpenAI } from '../fakes/scripted-openai-server.ts';
import { createHarness } from '../support/agent-harness.ts';

const request = { model: 'gpt-test', messages: [{ role: 'user' as const, content: 'hi' }], tools: [] };
let server: ScriptedOpenAI | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function clientFor(options: { timeoutMs?: number; maxAttempts?: number } = {}) {
  server = await startScriptedOpenAI();
  return createOpenAIModelClient({
    apiKey: 'sk-test',
    baseURL: server.baseURL,
    initialDelayMs: 5,
    maxDelayMs: 20,
    ...options,
  });
}

describe('the OpenAI model client', () => {
  it('waits out a 429 for as long as Retry-After says, then succeeds', async () => {
    const model = await clientFor();
    server?.enqueue({ status: 429, headers: { 'retry-after': '1' } }, { reply: 'finally' });

    const response = await model.complete(request, { deadlineAt: Date.now() + 30_000 });

    expect(response.content).toBe('finally');
    const [first, second] = server?.requests ?? [];
    expect((second?.receivedAt ?? 0) - (first?.receivedAt ?? 0)).toBeGreaterThanOrEqual(950);
  });

  it('reports usage and tool calls from the response', async () => {
    const model = await clientFor();
    server?.enqueue({
      toolCalls: [{ name: 'get_order', arguments: { order_id: '1' } }],
      usage: { prompt: 120, completion: 30 },
    });

    const response = await model.complete(request, { deadlineAt: Date.now() + 30_000 });

    expect(response.usage).toEqual({ promptTokens: 120, completionTokens: 30 });
    expect(response.toolCalls).toEqual([
      { id: expect.any(String), name: 'get_order', arguments: '{"order_id":"1"}' },
    ]);
  });

  it('gives up after repeated 500s with a reason that says what happened', async () => {
    const model = await clientFor({ maxAttempts: 3 });
    server?.enqueue({ status: 500 }, { status: 500 }, { status: 500 });

    const error = await model.complete(request, { deadlineAt: Date.now() + 30_000 }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ModelCallError);
    expect(error).toMatchObject({ code: 'MODEL_CALL_FAILED', status: 500, attempts: 3, retryable: true });
    expect((error as Error).message).toMatch(/^HTTP 500 from the model service: .* \(after 3 attempts\)$/);
    expect(server?.requests).toHaveLength(3);
  });

  it('does not retry a quota error or a 400', async () => {
    const model = await clientFor();
    server?.enqueue(
      {
        status: 429,
        body: {
          error: {
            message: 'You exceeded your current quota',
            type: 'insufficient_quota',
            code: 'insufficient_quota',
          },
        },
      },
      { status: 400, body: { error: { message: 'bad request', type: 'invalid_request_error', code: null } } },
    );

    const quota = await model.complete(request, { deadlineAt: Date.now() + 30_000 }).catch((e: unknown) => e);
    const badRequest = await model
      .complete(request, { deadlineAt: Date.now() + 30_000 })
      .catch((e: unknown) => e);

    expect((quota as Error).message).toContain('quota exhausted');
    expect(quota).toMatchObject({ attempts: 1, retryable: false });
    expect(badRequest).toMatchObject({ status: 400, attempts: 1, retryable: false });
    expect(server?.requests).toHaveLength(2);
  });

  it('cuts a hung call at its per-call timeout and retries it', async () => {
    const model = await clientFor({ timeoutMs: 100 });
    server?.enqueue({ hang: true }, { reply: 'awake now' });

    const started = Date.now();
    const response = await model.complete(request, { deadlineAt: Date.now() + 30_000 });

    expect(response.content).toBe('awake now');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('does not wait for a Retry-After that ends past the run deadline', async () => {
    const model = await clientFor();
    server?.enqueue({ status: 429, headers: { 'retry-after': '60' } }, { reply: 'never asked' });

    const started = Date.now();
    const error = await model.complete(request, { deadlineAt: Date.now() + 2_000 }).catch((e: unknown) => e);

    expect(Date.now() - started).toBeLessThan(1_000);
    expect(error).toMatchObject({ status: 429, attempts: 1 });
    expect(server?.requests).toHaveLength(1);
  });
});

describe('model failures inside a run', () => {
  it('fails the run with a clear reason after repeated 500s', async () => {
    const h = await createHarness({
      tools: [],
      model: { maxAttempts: 2 },
      script: [{ status: 500 }, { status: 500 }],
    });

    const { outcome } = await h.start('hi');

    expect(outcome.status).toBe('failed');
    expect(outcome.status === 'failed' && outcome.reason).toMatch(
      /^the model service failed: HTTP 500 from the model service: .* \(after 2 attempts\)$/,
    );
    expect(h.eventsOf('model.failed')[0]).toMatchObject({ code: 'MODEL_CALL_FAILED' });
    expect(h.eventsOf('run.ended')[0]).toMatchObject({ outcome: 'failed' });
  });

  it('escalates a run whose model hangs past the run deadline, without waiting for the model', async () => {
    const h = await createHarness({
      tools: [],
      limits: { timeoutMs: 300 },
      model: { timeoutMs: 60_000 },
      script: [{ hang: true }],
    });

    const started = Date.now();
    const { outcome } = await h.start('hi');

    expect(Date.now() - started).toBeLessThan(2_000);
    expect(outcome).toMatchObject({
      status: 'escalated',
      guard: 'deadline',
      reason: 'stopped: the run passed its deadline of 300 ms',
    });
  });
});
