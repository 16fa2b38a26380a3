import type { Tool } from '../../src/core/tools/define-tool.ts';
import { createHttpTool, type HttpToolSpec } from '../../tools/http-tool.ts';

export const SHOP = 'https://shop.example.com';

/** get_order as an operator would configure it: a read-only HTTP tool against the shop API. */
export function shopGetOrder(overrides: Partial<HttpToolSpec> = {}): Tool {
  return createHttpTool(
    {
      name: 'get_order',
      description: 'Look up an order.',
      whenToUse: 'The person asks about an order.',
      whenNotToUse: 'To change an order.',
      method: 'GET',
      url: `${SHOP}/api/orders/{order_id}`,
      input: { type: 'object', properties: { order_id: { type: 'string' } }, required: ['order_id'] },
      headers: { Authorization: 'Bearer shop-secret-token-0001' },
      category: 'lookup',
      risk: 'read',
      approval: 'never',
      idempotent: true,
      timeoutMs: 2_000,
      retry: { maxAttempts: 2 },
      ...overrides,
    },
    { allowedHosts: ['shop.example.com'] },
  );
}

export function shopRefundOrder(overrides: Partial<HttpToolSpec> = {}): Tool {
  return shopGetOrder({
    name: 'refund_order',
    description: 'Refund an order.',
    whenToUse: 'The customer asked for a refund and the order is eligible.',
    whenNotToUse: 'To look up an order.',
    method: 'POST',
    url: `${SHOP}/api/orders/{order_id}/refund`,
    input: {
      type: 'object',
      properties: { order_id: { type: 'string' }, amount: { type: 'number' } },
      required: ['order_id', 'amount'],
    },
    category: 'mutation',
    risk: 'write',
    approval: 'required',
    idempotent: false,
    ...overrides,
  });
}
