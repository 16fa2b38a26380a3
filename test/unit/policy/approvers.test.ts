import { describe, expect, it } from 'vitest';
import type { PendingApproval } from '../../../src/core/run-state.ts';
import { checkApprover } from '../../../src/policy/approvers.ts';

const pending: PendingApproval = {
  approvalId: 'ap-1',
  runId: 'run-1',
  agent: 'support',
  toolName: 'refund_order',
  callId: 'call_1',
  displayArgs: { order_id: '1' },
  argsHash: 'h',
  risk: 'write',
  reason: 'writes',
  requestedBy: 'UASKER',
  conversation: { platform: 'slack', tenantId: 'T1', channelId: 'C1', threadId: null },
  createdAt: 0,
  expiresAt: 1,
};

describe('who may approve', () => {
  const rules = { approvers: ['ULEAD', 'SONCALL'], allowSelfApproval: false };

  it('accepts a listed user or a member of a listed group', () => {
    expect(checkApprover('ULEAD', pending, rules)).toEqual({ ok: true });
    expect(checkApprover('UOTHER', pending, rules, ['SONCALL'])).toEqual({ ok: true });
  });

  it('refuses the requester unless self-approval is allowed', () => {
    const listed = { ...rules, approvers: [...rules.approvers, 'UASKER'] };
    expect(checkApprover('UASKER', pending, listed)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('someone else'),
    });
    expect(checkApprover('UASKER', pending, { ...listed, allowSelfApproval: true })).toEqual({ ok: true });
  });

  it('refuses everyone, with a reason that names the platform, when no approvers are configured', () => {
    expect(checkApprover('ULEAD', pending, { approvers: [], allowSelfApproval: false })).toEqual({
      ok: false,
      reason: 'no approvers are configured for slack',
    });
  });

  it('refuses a stranger', () => {
    expect(checkApprover('USTRANGER', pending, rules)).toMatchObject({ ok: false });
  });
});
