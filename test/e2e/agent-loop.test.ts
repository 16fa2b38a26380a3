import { describe, expect, it } from 'vitest';
import { failure, notFound } from '../../src/core/tools/tool-result.ts';
import { createHarness } from '../support/agent-harness.ts';
import { failingWith, recordingTool } from '../support/test-tools.ts';

/** The tool messages the model received in the last request, parsed. */
function toolReplies(body: { messages?: unknown[] } | undefined): Array<Record<string, unknown>> {
  return (body?.messages ?? [])
    .filter((m): m is { role: string; content: string } => (m as { role?: string }).role === 'tool')
    .map((m) => JSON.parse(m.content) as Record<string, unknown>);
}

describe('the agent loop against a scripted model', () => {
  it('answers in plain text when the model needs no tools', async () => {
    const h = await createHarness({ tools: [], script: [{ reply: 'Hello! How can I help?' }] });

    const { outcome } = await h.start('hi');

    expect(outcome).toEqual({ status: 'completed', text: 'Hello! How can I help?' });
    expect(h.server.requests).toHaveLength(1);
    expect(h.server.requests[0]?.messages?.[0]).toMatchObject({
      role: 'system',
      content: 'You help the team with orders.',
    });
    expect(h.server.requests[0]?.messages?.at(-1)).toMatchObject({ role: 'user', content: 'hi' });
    expect(h.eventsOf('run.ended')[0]).toMatchObject({
      outcome: 'completed',
      iterations: 1,
      promptTokens: 10,
    });
  });

  it('runs a tool call, gives the model its result, and posts the answer', async () => {
    const getOrder = recordingTool('get_order');
    const h = await createHarness({
      tools: [getOrder.tool],
      script: [
        { toolCalls: [{ name: 'get_order', arguments: { order_id: '1234' } }] },
        { reply: 'Order 1234 has shipped.' },
      ],
    });

    const { outcome } = await h.start('where is order 1234?');

    expect(outcome).toEqual({ status: 'completed', text: 'Order 1234 has shipped.' });
    expect(getOrder.calls).toEqual([{ order_id: '1234' }]);
    expect(h.events.map((e) => e.type)).toEqual([
      'run.started',
      'model.called',
      'tool.proposed',
      'policy.verdict',
      'tool.started',
      'tool.finished',
      'model.called',
      'run.ended',
    ]);
    expect(new Set(h.events.map((e) => `${e.runId}/${e.traceId}`)).size).toBe(1);
    expect(toolReplies(h.server.requests[1])).toEqual([
      { status: 'success', data: { order_id: '1234', status: 'shipped' } },
    ]);
    const sentTool = h.server.requests[0]?.tools?.[0];
    expect(sentTool?.type === 'function' && sentTool.function.name).toBe('get_order');
    expect(sentTool?.type === 'function' && sentTool.function.parameters).toMatchObject({
      type: 'object',
      required: ['order_id'],
      additionalProperties: false,
    });
  });

  it('runs two calls from one response in the order the model gave', async () => {
    const order: string[] = [];
    const first = recordingTool('get_order', async (input) => {
      order.push(`get_order:${input.order_id}`);
      return notFound('no such order');
    });
    const second = recordingTool('get_shipment', async (input) => {
      order.push(`get_shipment:${input.order_id}`);
      return { status: 'success', data: { carrier: 'UPS' } };
    });
    const h = await createHarness({
      tools: [first.tool, second.tool],
      script: [
        {
          toolCalls: [
            { name: 'get_order', arguments: { order_id: '1' } },
            { name: 'get_shipment', arguments: { order_id: '2' } },
          ],
        },
        { reply: 'done' },
      ],
    });

    await h.start('check both');

    expect(order).toEqual(['get_order:1', 'get_shipment:2']);
    expect(toolReplies(h.server.requests[1]).map((r) => r.status)).toEqual(['not_found', 'success']);
  });

  it('stops the batch when the first call fails and tells the model the second was skipped', async () => {
    const first = recordingTool('get_order', failingWith('shop API is down', false));
    const second = recordingTool('get_shipment');
    const h = await createHarness({
      tools: [first.tool, second.tool],
      script: [
        {
          toolCalls: [
            { name: 'get_order', arguments: { order_id: '1' } },
            { name: 'get_shipment', arguments: { order_id: '1' } },
          ],
        },
        { reply: 'The shop is down, sorry.' },
      ],
    });

    const { outcome } = await h.start('check order 1');

    expect(second.calls).toEqual([]);
    const replies = toolReplies(h.server.requests[1]);
    expect(replies[0]).toEqual({ status: 'error', error: 'shop API is down', retryable: false });
    expect(replies[1]).toMatchObject({ status: 'error', retryable: true });
    expect(String(replies[1]?.error)).toContain('skipped');
    expect(String(replies[1]?.error)).toContain('get_order failed');
    expect(h.eventsOf('tool.skipped').map((e) => e.tool)).toEqual(['get_shipment']);
    expect(outcome.status).toBe('completed');
  });

  it('never executes invalid JSON or schema-breaking arguments, and runs the corrected call', async () => {
    const getOrder = recordingTool('get_order');
    const h = await createHarness({
      tools: [getOrder.tool],
      script: [
        { toolCalls: [{ name: 'get_order', arguments: '{"order_id": 12' }] },
        { toolCalls: [{ name: 'get_order', arguments: { order_id: 'abc' } }] },
        { toolCalls: [{ name: 'get_order', arguments: { order_id: '12' } }] },
        { reply: 'Order 12 has shipped.' },
      ],
    });

    const { outcome } = await h.start('order 12?');

    expect(getOrder.calls).toEqual([{ order_id: '12' }]);
    const [invalidJson] = toolReplies(h.server.requests[1]);
    expect(invalidJson).toMatchObject({ status: 'error', retryable: true });
    expect(String(invalidJson?.error)).toContain('not valid JSON');
    const [badSchema] = toolReplies(h.server.requests[2]).slice(-1);
    expect(String(badSchema?.error)).toContain('order_id: must be digits');
    expect(h.eventsOf('tool.arguments_rejected')).toHaveLength(2);
    expect(outcome).toEqual({ status: 'completed', text: 'Order 12 has shipped.' });
    // Rejected attempts are model round trips like any other: they count against the run's limits.
    expect(h.eventsOf('run.ended')[0]?.iterations).toBe(4);
  });

  it('answers an unknown tool with an error naming the tools that exist', async () => {
    const getOrder = recordingTool('get_order');
    const h = await createHarness({
      tools: [getOrder.tool],
      script: [{ toolCalls: [{ name: 'delete_everything', arguments: {} }] }, { reply: 'I cannot do that.' }],
    });

    const { outcome } = await h.start('delete it all');

    const [reply] = toolReplies(h.server.requests[1]);
    expect(reply?.error).toBe('unknown tool "delete_everything"; the tools you may call are: get_order');
    expect(outcome.status).toBe('completed');
  });

  it('lets the 2nd identical call through and escalates on the 3rd', async () => {
    const getOrder = recordingTool('get_order');
    const same = { toolCalls: [{ name: 'get_order', arguments: { order_id: '7' } }] };
    const h = await createHarness({ tools: [getOrder.tool], script: [same, same, same] });

    const { outcome } = await h.start('order 7?');

    expect(getOrder.calls).toHaveLength(2);
    expect(outcome).toMatchObject({
      status: 'escalated',
      guard: 'repeated_call',
      reason: 'stopped: the same call to get_order was made 3 times',
    });
    expect(h.eventsOf('guard.tripped')).toHaveLength(1);
  });

  it('treats reordered keys as the same call for the repetition guard', async () => {
    const tool = recordingTool('get_order');
    const h = await createHarness({
      tools: [tool.tool],
      limits: { maxRepeatedCalls: 2 },
      script: [
        { toolCalls: [{ name: 'get_order', arguments: '{"order_id":"7"}' }] },
        { toolCalls: [{ name: 'get_order', arguments: '{ "order_id" : "7" }' }] },
      ],
    });
    expect((await h.start('x')).outcome).toMatchObject({ status: 'escalated', guard: 'repeated_call' });
  });

  it('escalates when the model keeps calling tools past the iteration cap', async () => {
    const getOrder = recordingTool('get_order');
    const h = await createHarness({
      tools: [getOrder.tool],
      limits: { maxIterations: 3 },
      script: [1, 2, 3].map((n) => ({
        toolCalls: [{ name: 'get_order', arguments: { order_id: String(n) } }],
      })),
    });

    const { outcome } = await h.start('look everything up');

    expect(h.server.requests).toHaveLength(3);
    expect(outcome).toMatchObject({ status: 'escalated', guard: 'iterations' });
    expect(outcome.status === 'escalated' && outcome.reason).toContain('3 model round trips');
  });

  it('escalates on the token cap using the usage the model reported', async () => {
    const getOrder = recordingTool('get_order');
    const h = await createHarness({
      tools: [getOrder.tool],
      limits: { maxTokens: 1_000 },
      script: [
        {
          toolCalls: [{ name: 'get_order', arguments: { order_id: '1' } }],
          usage: { prompt: 400, completion: 100 },
        },
        {
          toolCalls: [{ name: 'get_order', arguments: { order_id: '2' } }],
          usage: { prompt: 450, completion: 100 },
        },
      ],
    });

    const { outcome } = await h.start('go');

    expect(outcome).toMatchObject({
      status: 'escalated',
      guard: 'tokens',
      reason: 'stopped: the run used 1050 tokens (limit 1000)',
    });
    // The call proposed in the response that crossed the cap is not run.
    expect(getOrder.calls).toEqual([{ order_id: '1' }]);
  });

  it('escalates after three tool failures in a row', async () => {
    const flaky = recordingTool('get_order', async () => failure('upstream said no', false));
    const h = await createHarness({
      tools: [flaky.tool],
      script: [1, 2, 3].map((n) => ({
        toolCalls: [{ name: 'get_order', arguments: { order_id: String(n) } }],
      })),
    });

    const { outcome } = await h.start('go');

    expect(outcome).toMatchObject({ status: 'escalated', guard: 'consecutive_failures' });
    expect(flaky.calls).toHaveLength(3);
  });

  it('ends as escalated with the reason and summary when the agent calls escalate_to_human', async () => {
    const { escalateToHuman } = await import('../../tools/escalate-to-human.ts');
    const h = await createHarness({
      tools: [escalateToHuman],
      script: [
        {
          toolCalls: [
            {
              name: 'escalate_to_human',
              arguments: {
                reason: 'Refund over the limit',
                summary: 'Customer wants 900 USD back for order 55.',
              },
            },
          ],
        },
      ],
    });

    const { outcome } = await h.start('refund 900 on order 55');

    expect(outcome).toEqual({
      status: 'escalated',
      reason: 'Refund over the limit',
      summary: 'Customer wants 900 USD back for order 55.',
      guard: null,
    });
    expect(h.eventsOf('run.ended')[0]).toMatchObject({
      outcome: 'escalated',
      reason: 'Refund over the limit',
    });
  });

  it('ends as cancelled, without waiting for the model, when the run is cancelled mid-call', async () => {
    const h = await createHarness({ tools: [], script: [{ hang: true }] });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);

    const started = Date.now();
    const { outcome } = await h.runner.start({
      agent: 'support',
      text: 'hi',
      requestedBy: 'U1',
      conversation: { platform: 'console', tenantId: 'local', channelId: 'terminal', threadId: null },
      signal: controller.signal,
    });

    expect(outcome).toEqual({ status: 'cancelled', reason: 'the run was cancelled' });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(h.eventsOf('run.ended')[0]).toMatchObject({ outcome: 'cancelled' });
  });
});
