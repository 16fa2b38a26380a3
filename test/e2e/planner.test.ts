import { afterEach, describe, expect, it } from 'vitest';
import { ModelCallError } from '../../src/core/errors.ts';
import type { ChatMessage } from '../../src/core/messages.ts';
import {
  categoriesFor,
  createPlanner,
  isSimpleRequest,
  type Planner,
  type PlannerTool,
} from '../../src/core/planner.ts';
import { createOpenAIModelClient } from '../../src/llm/openai-model-client.ts';
import {
  type ScriptedOpenAI,
  type ScriptStep,
  startScriptedOpenAI,
} from '../fakes/scripted-openai-server.ts';

const TOOLS: readonly PlannerTool[] = [
  {
    name: 'get_order',
    category: 'lookup',
    description: 'Look up an order by id.\nReturns status and total.',
  },
  { name: 'search_docs', category: 'search', description: 'Search the help center.' },
  { name: 'refund_order', category: 'mutation', description: 'Refund part or all of an order.' },
  { name: 'escalate_to_human', category: 'escalation', description: 'Hand the thread to a person.' },
];

const REFUND: ChatMessage[] = [
  { role: 'system', content: 'You help the team with orders.' },
  { role: 'user', content: 'refund order 1234 for 20 USD' },
];

const CLIENT = { apiKey: 'sk-test', initialDelayMs: 5, maxDelayMs: 20 };
let server: ScriptedOpenAI | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function plannerWith(...script: ScriptStep[]): Promise<Planner> {
  server = await startScriptedOpenAI({ script });
  return createPlanner({ model: createOpenAIModelClient({ ...CLIENT, baseURL: server.baseURL }) });
}

function plan(planner: Planner, messages: readonly ChatMessage[] = REFUND) {
  return planner.plan({ model: 'gpt-mini', messages, tools: TOOLS, deadlineAt: Date.now() + 10_000 });
}

/** What the runner would offer the main model for a planned step. */
function offeredTools(step: Parameters<typeof categoriesFor>[0]): string[] {
  return TOOLS.filter((tool) => categoriesFor(step).includes(tool.category)).map((tool) => tool.name);
}

describe('the planner', () => {
  it('reads a valid plan and reports the tokens it cost', async () => {
    const planner = await plannerWith({
      reply: '{"next": "act", "why": "the user asked for a refund of a known order"}',
      usage: { prompt: 210, completion: 18 },
    });

    const result = await plan(planner);

    expect(result).toEqual({
      plan: { next: 'act', why: 'the user asked for a refund of a known order' },
      usage: { promptTokens: 210, completionTokens: 18 },
      valid: true,
    });
  });

  it('reads a plan inside a ```json fence with prose around it', async () => {
    const planner = await plannerWith({
      reply: 'Here is my plan:\n```json\n{"next":"gather","why":"check the order {1234} first"}\n```\nDone.',
    });

    const result = await plan(planner);

    expect(result.valid).toBe(true);
    expect(result.plan).toEqual({ next: 'gather', why: 'check the order {1234} first' });
  });

  it('cuts a rambling reason to 300 characters instead of rejecting the plan', async () => {
    const planner = await plannerWith({
      reply: JSON.stringify({ next: 'escalate', why: 'a'.repeat(1_000) }),
    });

    const result = await plan(planner);

    expect(result).toMatchObject({ valid: true, plan: { next: 'escalate', why: 'a'.repeat(300) } });
  });

  it.each([
    ['prose without JSON', 'I think we should look the order up.'],
    ['an unknown step', '{"next": "refund", "why": "the user wants money back"}'],
    ['a missing reason', '{"next": "act"}'],
    ['broken JSON', '{"next": "act", "why": "unterminated'],
  ])('falls back to gathering, marked invalid, on %s', async (_label, reply) => {
    const planner = await plannerWith({ reply, usage: { prompt: 90, completion: 12 } });

    const result = await plan(planner);

    expect(result).toEqual({
      plan: { next: 'gather', why: 'the plan could not be read; gathering information' },
      usage: { promptTokens: 90, completionTokens: 12 },
      valid: false,
    });
  });

  it('lets a model call failure propagate', async () => {
    const planner = await plannerWith({ status: 400 });

    await expect(plan(planner)).rejects.toBeInstanceOf(ModelCallError);
  });

  it('sends no tools, names every tool with its category, and cuts tool output short', async () => {
    const planner = await plannerWith({ reply: '{"next":"done","why":"the refund is done"}' });
    const messages: ChatMessage[] = [
      ...REFUND,
      {
        role: 'assistant',
        content: null,
        toolCalls: [{ id: 'c1', name: 'get_order', arguments: '{"order_id":"1234"}' }],
      },
      { role: 'tool', toolCallId: 'c1', content: `{"status":"paid","notes":"${'x'.repeat(2_000)}"}` },
    ];

    await plan(planner, messages);

    const [request] = server?.requests ?? [];
    expect(request?.model).toBe('gpt-mini');
    expect(request?.tools).toBeUndefined();
    const [system, user, ...rest] = request?.messages ?? [];
    expect(rest).toEqual([]);
    expect(system?.role).toBe('system');
    const prompt = String(system?.content);
    for (const tool of TOOLS) expect(prompt).toContain(`- ${tool.name} (${tool.category}): `);
    // Only the first line of a description is sent.
    expect(prompt).toContain('- get_order (lookup): Look up an order by id.\n');
    expect(prompt).toContain('- escalate_to_human (escalation): Hand the thread to a person.\n');
    expect(prompt).not.toContain('Returns status and total.');
    expect(prompt).toContain('"next": "gather"|"act"|"escalate"|"done"');
    const conversation = String(user?.content);
    expect(conversation).toContain('user: refund order 1234 for 20 USD');
    expect(conversation).toContain('[called get_order({"order_id":"1234"})]');
    expect(conversation).toContain('tool result: {"status":"paid"');
    expect(conversation.length).toBeLessThan(500);
    expect(conversation).not.toContain('You help the team with orders.');
  });

  it('sends only the last 20 messages of a long conversation', async () => {
    const planner = await plannerWith({ reply: '{"next":"done","why":"nothing left to do"}' });
    const messages = Array.from({ length: 30 }, (_, i): ChatMessage => ({ role: 'user', content: `m${i}` }));

    await plan(planner, messages);

    const conversation = String(server?.requests[0]?.messages?.[1]?.content);
    expect(conversation.startsWith('user: m10\n')).toBe(true);
    expect(conversation.endsWith('user: m29')).toBe(true);
  });

  it('for a refund request: plans, then offers the action and lookup tools but not escalation', async () => {
    const planner = await plannerWith({ reply: '{"next":"act","why":"refund the order the user named"}' });

    expect(isSimpleRequest('refund order 1234 for 20 USD')).toBe(false);
    const result = await plan(planner, [{ role: 'user', content: 'refund order 1234 for 20 USD' }]);

    expect(result.plan.next).toBe('act');
    expect(offeredTools(result.plan.next)).toEqual(['get_order', 'refund_order']);
  });
});

describe('categoriesFor', () => {
  it('maps each step to the tool categories it may use', () => {
    expect(categoriesFor('gather')).toEqual(['lookup', 'search', 'delegation']);
    expect(categoriesFor('act')).toEqual(['mutation', 'lookup']);
    expect(categoriesFor('escalate')).toEqual(['escalation']);
    expect(categoriesFor('done')).toEqual([]);
    expect(offeredTools('gather')).toEqual(['get_order', 'search_docs']);
    expect(offeredTools('escalate')).toEqual(['escalate_to_human']);
    expect(offeredTools('done')).toEqual([]);
  });
});

describe('isSimpleRequest', () => {
  it.each(['thanks!', 'hi', 'Thank you so much for your help!', 'yes', 'no', "ok, that's all", '  hey  '])(
    'skips the planner for %j',
    (text) => expect(isSimpleRequest(text)).toBe(true),
  );

  it.each([
    'refund order 1234 for 20 USD',
    'thanks, now cancel my order',
    'hi?',
    'where is my order',
    '',
    `${'thanks '.repeat(13)}`,
  ])('asks the planner for %j', (text) => expect(isSimpleRequest(text)).toBe(false));
});
