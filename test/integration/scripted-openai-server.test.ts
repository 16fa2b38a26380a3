import OpenAI, { APIConnectionTimeoutError, APIError } from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ScriptedOpenAI, startScriptedOpenAI } from '../fakes/scripted-openai-server.ts';

describe('scripted OpenAI server, driven by the real openai SDK', () => {
  let server: ScriptedOpenAI;
  let client: OpenAI;

  beforeEach(async () => {
    server = await startScriptedOpenAI();
    client = new OpenAI({ apiKey: 'test', baseURL: server.baseURL, maxRetries: 0 });
  });

  afterEach(async () => {
    await server.close();
  });

  const ask = (content = 'hello', extra: Partial<OpenAI.Chat.ChatCompletionCreateParamsNonStreaming> = {}) =>
    client.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content }], ...extra });

  it('answers a reply step with a stop completion and default usage', async () => {
    server.enqueue({ reply: 'Hi there' });

    const completion = await ask('hello');

    expect(server.baseURL).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    expect(completion.object).toBe('chat.completion');
    expect(completion.model).toBe('gpt-test');
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.choices[0]?.message).toMatchObject({ role: 'assistant', content: 'Hi there' });
    expect(completion.choices[0]?.message.tool_calls).toBeUndefined();
    expect(completion.usage).toEqual({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 });
  });

  it('uses scripted usage', async () => {
    server.enqueue({ reply: 'ok', usage: { prompt: 120, completion: 30 } });
    const completion = await ask();
    expect(completion.usage).toEqual({ prompt_tokens: 120, completion_tokens: 30, total_tokens: 150 });
  });

  it('answers a toolCalls step with tool_calls the SDK understands', async () => {
    server.enqueue(
      {
        toolCalls: [
          { name: 'search', arguments: { query: 'redis', limit: 3 } },
          { name: 'broken', arguments: '{"not json', id: 'call_custom' },
        ],
        content: 'Let me look.',
      },
      { toolCalls: [{ name: 'search', arguments: {} }] },
    );

    const first = await ask('find redis');
    const choice = first.choices[0];
    expect(choice?.finish_reason).toBe('tool_calls');
    expect(choice?.message.content).toBe('Let me look.');
    const calls = choice?.message.tool_calls ?? [];
    expect(calls).toHaveLength(2);
    const [search, broken] = calls;
    expect(search?.type).toBe('function');
    if (search?.type !== 'function' || broken?.type !== 'function')
      throw new Error('expected function calls');
    expect(search.id).toBe('call_1');
    expect(search.function.name).toBe('search');
    expect(JSON.parse(search.function.arguments)).toEqual({ query: 'redis', limit: 3 });
    expect(broken.id).toBe('call_custom');
    expect(broken.function.arguments).toBe('{"not json');

    // Default ids stay unique across the server's whole life, and content defaults to null.
    const second = await ask('again');
    expect(second.choices[0]?.message.content).toBeNull();
    expect(second.choices[0]?.message.tool_calls?.[0]?.id).toBe('call_2');
  });

  it('surfaces an error step as the SDK APIError with status and headers', async () => {
    server.enqueue({ status: 429, headers: { 'retry-after': '1' } }, { status: 500 });

    const rateLimited = await ask().catch((error: unknown) => error);
    expect(rateLimited).toBeInstanceOf(OpenAI.RateLimitError);
    expect(rateLimited).toBeInstanceOf(APIError);
    const apiError = rateLimited as APIError;
    expect(apiError.status).toBe(429);
    expect(apiError.headers?.get('retry-after')).toBe('1');
    expect(apiError.type).toBe('rate_limit_error');
    expect(apiError.code).toBe('rate_limit_exceeded');

    await expect(ask()).rejects.toMatchObject({ status: 500, type: 'server_error' });
  });

  it('sends a custom error body verbatim', async () => {
    server.enqueue({ status: 400, body: { error: { message: 'context too long', type: 'x', code: 'ctx' } } });
    await expect(ask()).rejects.toMatchObject({ status: 400, code: 'ctx', message: '400 context too long' });
  });

  it('answers 500 with a clear message when the script is exhausted', async () => {
    server.enqueue({ reply: 'only one' });
    await ask('first');

    const error = await ask('second').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect((error as APIError).message).toContain('scripted server: no step left for request #2');
    expect(server.requests).toHaveLength(2);
  });

  it('records every request in order with body, headers and time', async () => {
    server.enqueue({ reply: 'a' }, { reply: 'b' });
    const before = Date.now();
    await ask('first question', {
      tools: [{ type: 'function', function: { name: 'search', parameters: { type: 'object' } } }],
    });
    await client.chat.completions.create({
      model: 'gpt-other',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'second question' },
      ],
    });

    const [first, second] = server.requests;
    expect(first?.index).toBe(1);
    expect(first?.messages).toEqual([{ role: 'user', content: 'first question' }]);
    expect(first?.body.messages).toEqual(first?.messages);
    expect(first?.tools?.[0]).toMatchObject({ function: { name: 'search' } });
    expect(first?.headers.authorization).toBe('Bearer test');
    expect(first?.receivedAt).toBeGreaterThanOrEqual(before);
    expect(second?.model).toBe('gpt-other');
    expect(second?.messages?.map((m) => m.content)).toEqual(['be brief', 'second question']);
    expect(second?.receivedAt).toBeGreaterThanOrEqual(first?.receivedAt ?? Number.POSITIVE_INFINITY);
    expect(server.remaining()).toBe(0);
  });

  it('takes a script up front and builds dynamic steps from the request', async () => {
    await server.close();
    server = await startScriptedOpenAI({
      script: [
        {
          respond: (body) => {
            const last = (body as { messages: Array<{ content: string }> }).messages.at(-1);
            return { respond: () => ({ reply: `echo: ${last?.content ?? ''}` }) };
          },
        },
        {
          respond: () => {
            throw new Error('boom');
          },
        },
      ],
    });
    client = new OpenAI({ apiKey: 'test', baseURL: server.baseURL, maxRetries: 0 });

    const completion = await ask('ping');
    expect(completion.choices[0]?.message.content).toBe('echo: ping');
    await expect(ask()).rejects.toMatchObject({ status: 500, message: expect.stringContaining('boom') });
  });

  it('rejects stream: true with 400 without consuming a step', async () => {
    server.enqueue({ reply: 'still here' });
    const streaming = client.chat.completions.create({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'x' }],
      stream: true,
    });
    await expect(streaming).rejects.toMatchObject({ status: 400 });
    expect(server.requests[0]?.stream).toBe(true);
    expect(server.remaining()).toBe(1);
    const completion = await ask();
    expect(completion.choices[0]?.message.content).toBe('still here');
  });

  it('answers 404 for other routes', async () => {
    await expect(client.embeddings.create({ model: 'e', input: 'x' })).rejects.toMatchObject({ status: 404 });
    expect(server.requests).toHaveLength(0);
  });

  it('hangs until the client gives up, and close() still finishes', async () => {
    server.enqueue({ hang: true });
    const impatient = new OpenAI({ apiKey: 'test', baseURL: server.baseURL, maxRetries: 0, timeout: 200 });
    await expect(
      impatient.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
    ).rejects.toBeInstanceOf(APIConnectionTimeoutError);
    expect(server.requests).toHaveLength(1);
  });

  it('close() ends a request that is still hanging', async () => {
    server.enqueue({ hang: true });
    const pending = ask().catch((error: unknown) => error);
    await expect.poll(() => server.requests.length).toBe(1);
    await server.close();
    await server.close(); // idempotent
    expect(await pending).toBeInstanceOf(OpenAI.APIConnectionError);
  });
});
