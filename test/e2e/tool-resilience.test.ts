import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ToolExecutionError } from '../../src/core/errors.ts';
import { createToolExecutor } from '../../src/core/tools/tool-executor.ts';
import { success } from '../../src/core/tools/tool-result.ts';
import { createHarness } from '../support/agent-harness.ts';
import { failingWith, recordingTool, testToolContext } from '../support/test-tools.ts';

const ctx = testToolContext();

describe('tool execution: timeouts, retries, circuit breaker', () => {
  it('turns a tool that runs past its timeout into a retryable error result, and aborts its signal', async () => {
    let aborted = false;
    const slow = recordingTool(
      'get_order',
      async (_input, toolCtx) => {
        toolCtx.signal.addEventListener('abort', () => {
          aborted = true;
        });
        await sleep(2_000);
        return success('too late');
      },
      { timeoutMs: 50, retry: { maxAttempts: 1 } },
    );
    const h = await createHarness({
      tools: [slow.tool],
      script: [
        { toolCalls: [{ name: 'get_order', arguments: { order_id: '1' } }] },
        { reply: 'The shop is slow.' },
      ],
    });

    const started = Date.now();
    const { outcome } = await h.start('order 1?');

    expect(Date.now() - started).toBeLessThan(1_500);
    expect(aborted).toBe(true);
    const reply = JSON.parse(String(h.server.requests[1]?.messages?.at(-1)?.content));
    expect(reply).toEqual({
      status: 'error',
      error: 'get_order did not finish within 50 ms',
      retryable: true,
    });
    expect(h.eventsOf('tool.finished')[0]).toMatchObject({ status: 'error', attempts: 1 });
    expect(outcome.status).toBe('completed');
  });

  it('retries a retryable failure and the model sees only the success', async () => {
    const flaky = recordingTool('get_order', async (input, _ctx, attempt) => {
      if (attempt < 3) throw new ToolExecutionError('503 from shop', { retryable: true });
      return success({ order_id: input.order_id, status: 'packed' });
    });
    const h = await createHarness({
      tools: [flaky.tool],
      script: [{ toolCalls: [{ name: 'get_order', arguments: { order_id: '9' } }] }, { reply: 'Packed.' }],
    });

    await h.start('order 9?');

    expect(flaky.calls).toHaveLength(3);
    const reply = JSON.parse(String(h.server.requests[1]?.messages?.at(-1)?.content));
    expect(reply).toEqual({ status: 'success', data: { order_id: '9', status: 'packed' } });
    expect(h.eventsOf('tool.finished')[0]).toMatchObject({ status: 'success', attempts: 3 });
  });

  it('does not retry a non-idempotent write, so a side effect never happens twice', async () => {
    const refund = recordingTool('refund_order', failingWith('connection reset', true), {
      risk: 'write',
      category: 'mutation',
      idempotent: false,
      approval: 'never',
    });
    const executor = createToolExecutor();

    const { result, attempts } = await executor.execute(refund.tool, { order_id: '1' }, ctx);

    expect(attempts).toBe(1);
    expect(refund.calls).toHaveLength(1);
    expect(result).toEqual({ status: 'error', error: 'connection reset', retryable: true });
  });

  it('tells the model a timed-out write may have happened instead of inviting a blind retry', async () => {
    const refund = recordingTool(
      'refund_order',
      async () => {
        await sleep(1_000);
        return success('late');
      },
      { risk: 'write', category: 'mutation', idempotent: false, timeoutMs: 30 },
    );
    const { result } = await createToolExecutor().execute(refund.tool, { order_id: '1' }, ctx);
    expect(result).toMatchObject({ status: 'error', retryable: false });
    expect(result.status === 'error' && result.error).toContain('may or may not have taken effect');
  });

  it('opens the breaker after repeated failures, answers at once while open, and closes after a good probe', async () => {
    let healthy = false;
    const shop = recordingTool(
      'get_order',
      async () => {
        if (!healthy) throw new ToolExecutionError('shop is down', { retryable: true });
        return success({ ok: true });
      },
      { retry: { maxAttempts: 1 } },
    );
    const executor = createToolExecutor({ breaker: { failureThreshold: 3, cooldownMs: 200 } });

    for (let i = 0; i < 3; i++) {
      const { result } = await executor.execute(shop.tool, { order_id: '1' }, ctx);
      expect(result).toMatchObject({ status: 'error', error: 'shop is down' });
    }
    expect(shop.calls).toHaveLength(3);

    const started = performance.now();
    const { result: shortCircuited } = await executor.execute(shop.tool, { order_id: '1' }, ctx);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeLessThan(50);
    expect(shortCircuited).toMatchObject({ status: 'error', retryable: true });
    expect(shortCircuited.status === 'error' && shortCircuited.error).toContain('temporarily unavailable');
    expect(shop.calls).toHaveLength(3);

    await sleep(250);
    healthy = true;
    const { result: probe } = await executor.execute(shop.tool, { order_id: '1' }, ctx);
    expect(probe).toEqual({ status: 'success', data: { ok: true } });
    const { result: after } = await executor.execute(shop.tool, { order_id: '1' }, ctx);
    expect(after.status).toBe('success');
    expect(shop.calls).toHaveLength(5);
  });

  it('keeps one tool’s open breaker from blocking another tool', async () => {
    const down = recordingTool('get_order', failingWith('down', true), { retry: { maxAttempts: 1 } });
    const up = recordingTool('get_shipment');
    const executor = createToolExecutor({ breaker: { failureThreshold: 1, cooldownMs: 10_000 } });
    await executor.execute(down.tool, { order_id: '1' }, ctx);
    const { result } = await executor.execute(up.tool, { order_id: '1' }, ctx);
    expect(result.status).toBe('success');
  });

  it('reports an unexpected exception from a tool as a non-retryable error naming the tool', async () => {
    const broken = recordingTool('get_order', async () => {
      throw new RangeError('index out of range');
    });
    const { result } = await createToolExecutor().execute(broken.tool, { order_id: '1' }, ctx);
    expect(result).toEqual({
      status: 'error',
      error: 'get_order failed: index out of range',
      retryable: false,
    });
  });
});
