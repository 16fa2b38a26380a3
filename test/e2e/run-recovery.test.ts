import nock from 'nock';
import { describe, expect, it } from 'vitest';
import { recall } from '../../tools/recall.ts';
import { remember } from '../../tools/remember.ts';
import { createMemoryNotes } from '../fakes/memory-notes.ts';
import { createHarness } from '../support/agent-harness.ts';
import { SHOP, shopRefundOrder } from '../support/http-tools.ts';
import { useNockWithLoopback } from '../support/nock.ts';
import { recordingTool, testToolContext } from '../support/test-tools.ts';

useNockWithLoopback();

describe('checkpoints and continuing a run after its process died', () => {
  it('records a side-effecting call before it starts; continuing from there escalates instead of running it again', async () => {
    const refund = recordingTool('refund_order', undefined, {
      risk: 'write',
      category: 'mutation',
      approval: 'never',
      idempotent: false,
    });
    const h = await createHarness({
      tools: [refund.tool],
      script: [
        { toolCalls: [{ name: 'refund_order', arguments: { order_id: '55' } }] },
        { reply: 'Refunded.' },
      ],
    });

    await h.start('refund 55');

    const beforeCall = h.checkpoints.find((c) => c.inFlight !== null);
    expect(beforeCall?.inFlight).toMatchObject({ tool: 'refund_order', callId: expect.any(String) });
    expect(refund.calls).toHaveLength(1);

    // Another process picks the run up from that checkpoint, as after a SIGKILL mid-call.
    const { outcome } = await h.runner.continue(required(beforeCall), {});

    expect(refund.calls).toHaveLength(1);
    expect(outcome).toMatchObject({ status: 'escalated', guard: 'unknown_outcome' });
    expect(outcome.status === 'escalated' && outcome.reason).toMatch(
      /^the outcome of refund_order is unknown: call \S+ started at/,
    );
  });

  it('continues a batch after the calls that finished, without asking the model for them again', async () => {
    const getOrder = recordingTool('get_order');
    const h = await createHarness({
      tools: [getOrder.tool],
      script: [
        {
          toolCalls: [
            { name: 'get_order', arguments: { order_id: '1' } },
            { name: 'get_order', arguments: { order_id: '2' } },
          ],
        },
        { reply: 'first run' },
        { reply: 'after recovery' },
      ],
    });
    await h.start('orders 1 and 2');
    const afterFirstCall = h.checkpoints.find((c) => c.batch?.next === 1);
    expect(afterFirstCall).toBeDefined();
    getOrder.calls.length = 0;

    const { outcome } = await h.runner.continue(required(afterFirstCall), {});

    expect(getOrder.calls).toEqual([{ order_id: '2' }]);
    expect(outcome).toEqual({ status: 'completed', text: 'after recovery' });
    expect(h.server.requests).toHaveLength(3);
  });

  it('delivers an answer already in the checkpoint without another model call', async () => {
    const getOrder = recordingTool('get_order');
    const h = await createHarness({
      tools: [getOrder.tool],
      script: [{ toolCalls: [{ name: 'get_order', arguments: { order_id: '1' } }] }, { reply: 'the answer' }],
    });
    await h.start('q');
    // A checkpoint that holds the answer, as earlier releases stored one after every answer.
    const last = required(h.checkpoints.at(-1));
    const withAnswer = {
      ...last,
      messages: [...last.messages, { role: 'assistant' as const, content: 'the answer' }],
    };

    const { outcome } = await h.runner.continue(withAnswer, {});

    expect(outcome).toEqual({ status: 'completed', text: 'the answer' });
    expect(h.server.requests).toHaveLength(2);
  });

  it('does not checkpoint an accepted answer: a crash before the run ends asks the model once more', async () => {
    const getOrder = recordingTool('get_order');
    const h = await createHarness({
      tools: [getOrder.tool],
      script: [
        { toolCalls: [{ name: 'get_order', arguments: { order_id: '1' } }] },
        { reply: 'the answer' },
        { reply: 'the answer again' },
      ],
    });
    await h.start('q');
    const last = required(h.checkpoints.at(-1));
    expect(last.messages.at(-1)).toMatchObject({ role: 'tool' });

    const { outcome } = await h.runner.continue(last, {});

    expect(outcome).toEqual({ status: 'completed', text: 'the answer again' });
    expect(getOrder.calls).toHaveLength(1);
    expect(h.server.requests).toHaveLength(3);
  });

  it('sends the same Idempotency-Key for a call on every attempt', async () => {
    const keys: string[] = [];
    nock(SHOP)
      .post('/api/orders/55/refund')
      .times(2)
      .reply(function () {
        keys.push(String(this.req.headers['idempotency-key']));
        return keys.length === 1 ? [503, 'busy'] : [200, { ok: true }];
      });
    const h = await createHarness({
      tools: [shopRefundOrder({ approval: 'never', idempotent: true })],
      script: [
        { toolCalls: [{ name: 'refund_order', arguments: { order_id: '55', amount: 1 } }] },
        { reply: 'ok' },
      ],
    });

    const { state } = await h.start('refund');

    expect(keys).toHaveLength(2);
    expect(keys[0]).toBe(keys[1]);
    expect(keys[0]).toMatch(new RegExp(`^${state.runId}:`));
  });
});

describe('remember and recall', () => {
  it('keeps a note with who asked, and reads it back in a later run', async () => {
    const h = await createHarness({
      tools: [remember, recall],
      script: [
        { toolCalls: [{ name: 'remember', arguments: { text: 'Refunds over 100 USD need Ana.' } }] },
        { reply: 'Noted.' },
        { toolCalls: [{ name: 'recall', arguments: {} }] },
        { reply: 'Ana approves big refunds.' },
      ],
    });

    await h.start('remember that refunds over 100 USD need Ana');
    await h.start('who approves big refunds?');

    const recalled = JSON.parse(String(h.server.requests[3]?.messages?.at(-1)?.content));
    expect(recalled).toEqual({
      status: 'success',
      data: [{ text: 'Refunds over 100 USD need Ana.', by: 'U_ASKER', at: expect.any(String) }],
    });
  });

  it('says there are no notes rather than returning an empty success', async () => {
    const h = await createHarness({
      tools: [recall],
      script: [{ toolCalls: [{ name: 'recall', arguments: {} }] }, { reply: 'Nothing saved.' }],
    });
    await h.start('what do you remember?');
    expect(JSON.parse(String(h.server.requests[1]?.messages?.at(-1)?.content))).toEqual({
      status: 'not_found',
      message: 'no notes are saved for this channel',
    });
  });

  it('refuses a note past the channel’s cap', async () => {
    const full = { ...testToolContext(), notes: createMemoryNotes(0) };
    expect(await remember.execute({ text: 'x' }, full)).toEqual({
      status: 'error',
      error: 'this channel already has 0 notes, the most it keeps',
      retryable: false,
    });
  });
});

function required<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('expected a checkpoint');
  return value;
}
