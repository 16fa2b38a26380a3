import { describe, expect, it } from 'vitest';
import type { AgentProfile } from '../../src/core/agent-profile.ts';
import { DEFAULT_RUN_LIMITS } from '../../src/core/limits.ts';
import { success } from '../../src/core/tools/tool-result.ts';
import type { RecordedChatBody } from '../fakes/scripted-openai-server.ts';
import { createHarness } from '../support/agent-harness.ts';
import { recordingTool } from '../support/test-tools.ts';

function agent(name: string, overrides: Partial<AgentProfile> = {}): AgentProfile {
  return {
    name,
    model: `model-${name}`,
    instructions: `You are ${name}.`,
    tools: [],
    limits: DEFAULT_RUN_LIMITS,
    ...overrides,
  };
}

const lastTool = (body: RecordedChatBody | undefined) => String(body?.messages?.at(-1)?.content ?? '');
const delegateTo = (target: string, task: string) => ({
  toolCalls: [{ name: `ask_${target}`, arguments: { task } }],
});

describe('delegation to sub-agents', () => {
  it('a supervisor delegates to a child that uses a tool; the parent answers from the child’s result; the audit trail shows both runs', async () => {
    const getOrder = recordingTool('get_order');
    const h = await createHarness({
      tools: [getOrder.tool],
      agentTools: [],
      agent: { delegates: [{ agent: 'billing', requiresApproval: false }] },
      otherAgents: [agent('billing', { tools: ['get_order'] })],
      script: [
        delegateTo('billing', 'Check order 7'),
        { toolCalls: [{ name: 'get_order', arguments: { order_id: '7' } }] },
        { reply: 'Order 7 has shipped.' },
        { reply: 'Billing says order 7 has shipped.' },
      ],
    });

    const { outcome, state } = await h.start('where is order 7?');

    expect(outcome).toEqual({ status: 'completed', text: 'Billing says order 7 has shipped.' });
    expect(getOrder.calls).toEqual([{ order_id: '7' }]);
    expect(h.server.requests.map((r) => r.model)).toEqual([
      'gpt-test',
      'model-billing',
      'model-billing',
      'gpt-test',
    ]);
    expect(h.server.requests[1]?.messages?.at(-1)).toMatchObject({ role: 'user', content: 'Check order 7' });
    expect(JSON.parse(lastTool(h.server.requests[3]))).toEqual({
      status: 'success',
      data: { agent: 'billing', answer: 'Order 7 has shipped.' },
    });
    const childStart = h.events.find((e) => e.type === 'run.started' && e.agent === 'billing');
    expect(childStart).toMatchObject({ parentRunId: state.runId, rootRunId: state.runId });
    expect(h.events.filter((e) => e.type === 'run.ended').map((e) => e.runId)).toEqual([
      childStart?.runId,
      state.runId,
    ]);
  });

  it('refuses depth 4 at the default limit and A → B → A as a cycle; both reach the model as errors and the run ends cleanly', async () => {
    const chain = ['b', 'c', 'd', 'e'];
    const h = await createHarness({
      tools: [],
      agent: { delegates: [{ agent: 'b', requiresApproval: false }] },
      otherAgents: [
        agent('b', {
          delegates: [
            { agent: 'c', requiresApproval: false },
            { agent: 'support', requiresApproval: false },
          ],
        }),
        agent('c', { delegates: [{ agent: 'd', requiresApproval: false }] }),
        agent('d', { delegates: [{ agent: 'e', requiresApproval: false }] }),
        agent('e'),
      ],
      script: [
        ...chain.map((next) => delegateTo(next, `go ${next}`)),
        { reply: 'd could not go deeper' },
        { reply: 'c done' },
        delegateTo('support', 'back to the top'),
        { reply: 'b done' },
        { reply: 'all done' },
      ],
    });

    const { outcome } = await h.start('start the chain');

    expect(outcome).toEqual({ status: 'completed', text: 'all done' });
    const [depthRefusal, cycleRefusal] = h.eventsOf('delegation.refused');
    expect(depthRefusal?.reason).toBe(
      'delegation refused: support → b → c → d → e would be 4 levels deep (limit 3)',
    );
    expect(cycleRefusal?.reason).toContain(
      'support is already working on this request (support → b → support)',
    );
    expect(JSON.parse(lastTool(h.server.requests[4]))).toMatchObject({ status: 'error', retryable: false });
    expect(h.server.requests[4]?.model).toBe('model-d');
  });

  it('gives a child no more tokens than the parent has left, and charges the child’s usage to the parent', async () => {
    const getOrder = recordingTool('get_order');
    const h = await createHarness({
      tools: [getOrder.tool],
      agentTools: [],
      limits: { maxTokens: 1_000 },
      agent: { delegates: [{ agent: 'billing', requiresApproval: false }] },
      otherAgents: [agent('billing', { tools: ['get_order'] })],
      script: [
        { ...delegateTo('billing', 'Check order 7'), usage: { prompt: 350, completion: 50 } },
        {
          toolCalls: [{ name: 'get_order', arguments: { order_id: '7' } }],
          usage: { prompt: 600, completion: 100 },
        },
      ],
    });

    const { outcome, state } = await h.start('where is order 7?');

    const childEnd = h.events.find((e) => e.type === 'run.ended' && e.runId !== state.runId);
    expect(childEnd).toMatchObject({
      outcome: 'escalated',
      reason: 'stopped: the run used 700 tokens (limit 600)',
    });
    expect(getOrder.calls).toEqual([]);
    expect(state.usage).toEqual({ promptTokens: 950, completionTokens: 150 });
    expect(outcome).toMatchObject({
      status: 'escalated',
      guard: 'tokens',
      reason: 'stopped: the run used 1100 tokens (limit 1000)',
    });
  });

  it('asks a person before a hand-off marked requiresApproval, and runs the child once approved', async () => {
    const h = await createHarness({
      tools: [],
      agent: { delegates: [{ agent: 'billing', requiresApproval: true }] },
      otherAgents: [agent('billing')],
      script: [
        delegateTo('billing', 'issue a refund review'),
        { reply: 'Review opened.' },
        { reply: 'Billing opened a review.' },
      ],
    });

    const paused = await h.start('please review the refund');

    expect(paused.outcome.status).toBe('awaiting_approval');
    if (paused.outcome.status !== 'awaiting_approval') return;
    expect(paused.outcome.approval.reason).toBe('support wants billing to: issue a refund review');
    expect(h.server.requests).toHaveLength(1);
    const done = await h.runner.resume(paused.state, {
      decision: { approvalId: paused.outcome.approval.approvalId, decision: 'approve', by: 'U_LEAD' },
    });
    expect(done.outcome).toEqual({ status: 'completed', text: 'Billing opened a review.' });
  });
});

describe('plan–execute–observe', () => {
  it('does not offer mutation tools to a step planned as gathering information', async () => {
    const getOrder = recordingTool('get_order');
    const refund = recordingTool('refund_order', undefined, {
      category: 'mutation',
      risk: 'write',
      approval: 'never',
    });
    const h = await createHarness({
      tools: [getOrder.tool, refund.tool],
      agent: { planner: { model: 'planner-model' } },
      script: [
        { reply: '{"next": "gather", "why": "I need the order first"}' },
        { reply: 'Order 1234 is on its way.' },
      ],
    });

    const { outcome } = await h.start('refund order 1234 if it has not shipped');

    expect(outcome.status).toBe('completed');
    expect(h.server.requests[0]?.model).toBe('planner-model');
    const offered = h.server.requests[1]?.tools?.map((t) => (t.type === 'function' ? t.function.name : ''));
    expect(offered).toEqual(['get_order']);
    expect(h.eventsOf('plan.made')[0]).toMatchObject({ next: 'gather', valid: true });
  });

  it('skips the planner for a short, simple message', async () => {
    const h = await createHarness({
      tools: [recordingTool('get_order').tool],
      agent: { planner: { model: 'planner-model' } },
      script: [{ reply: 'You are welcome!' }],
    });
    await h.start('thanks!');
    expect(h.server.requests.map((r) => r.model)).toEqual(['gpt-test']);
  });
});

describe('output checks', () => {
  const checks = { identifiers: [{ name: 'order number', pattern: '\\b\\d{5}\\b' }] };

  it('asks once to correct an answer citing an order number no tool returned, then escalates', async () => {
    const getOrder = recordingTool('get_order', async () => success({ order: '12345', status: 'shipped' }));
    const h = await createHarness({
      tools: [getOrder.tool],
      agent: { outputChecks: checks },
      script: [
        { toolCalls: [{ name: 'get_order', arguments: { order_id: '1' } }] },
        { reply: 'Order 99999 has shipped.' },
        { reply: 'Order 88888 has shipped.' },
      ],
    });

    const { outcome } = await h.start('how is my order?');

    expect(h.server.requests[2]?.messages?.at(-1)).toMatchObject({
      role: 'user',
      content: expect.stringContaining('Your answer mentions order number 99999, which no tool result'),
    });
    expect(outcome).toMatchObject({
      status: 'escalated',
      guard: 'fabricated_output',
      reason: 'stopped: the answer cited order number 88888, which no tool returned',
    });
    expect(h.eventsOf('output.checked').map((e) => e.verdict)).toEqual(['fabricated', 'fabricated']);
  });

  it('passes an answer whose order number a tool returned, or that the person gave', async () => {
    const getOrder = recordingTool('get_order', async () => success({ order: '12345', status: 'shipped' }));
    const h = await createHarness({
      tools: [getOrder.tool],
      agent: { outputChecks: checks },
      script: [
        { toolCalls: [{ name: 'get_order', arguments: { order_id: '1' } }] },
        { reply: 'Order 12345 has shipped; you also asked about 55555.' },
      ],
    });

    const { outcome } = await h.start('how are orders 12345 and 55555?');

    expect(outcome.status).toBe('completed');
    expect(h.eventsOf('output.checked').map((e) => e.verdict)).toEqual(['pass']);
  });
});

describe('long conversations', () => {
  it('restates the agent’s instructions at the end of a long history, and not in a short one', async () => {
    const history = Array.from({ length: 16 }, (_, i) => ({
      role: i % 2 === 0 ? ('user' as const) : ('assistant' as const),
      content: `turn ${i}`,
    }));
    const h = await createHarness({ tools: [], script: [{ reply: 'short' }, { reply: 'long' }] });

    await h.start('a short one');
    await h.runner.start({
      agent: 'support',
      text: 'after a long talk',
      requestedBy: 'U1',
      conversation: { platform: 'console', tenantId: 'local', channelId: 'terminal', threadId: null },
      history,
    });

    expect(h.server.requests[0]?.messages?.at(-1)).toMatchObject({ role: 'user', content: 'a short one' });
    expect(h.server.requests[1]?.messages?.at(-1)).toEqual({
      role: 'system',
      content: 'Reminder of your instructions:\nYou help the team with orders.',
    });
  });
});
