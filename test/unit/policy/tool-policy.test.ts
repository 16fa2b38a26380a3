import { describe, expect, it } from 'vitest';
import { decideToolCall } from '../../../src/policy/tool-policy.ts';
import { recordingTool } from '../../support/test-tools.ts';

const read = recordingTool('get_order').tool;
const write = recordingTool('refund_order', undefined, { risk: 'write', category: 'mutation' }).tool;
const writeNever = recordingTool('tag_order', undefined, {
  risk: 'write',
  category: 'mutation',
  approval: 'never',
}).tool;
const destructive = recordingTool('cancel_order', undefined, { risk: 'destructive', approval: 'never' }).tool;
const readRequired = recordingTool('get_pii', undefined, { approval: 'required' }).tool;
const all = ['get_order', 'refund_order', 'tag_order', 'cancel_order', 'get_pii'];

const decide = (
  tool: typeof read,
  extra: { tainted?: boolean; channelAllowlist?: string[]; agentTools?: string[] } = {},
) =>
  decideToolCall({
    tool,
    agentTools: extra.agentTools ?? all,
    channelAllowlist: extra.channelAllowlist,
    tainted: extra.tainted ?? false,
  }).kind;

describe('tool policy', () => {
  it('allows read tools and asks for writes by default', () => {
    expect(decide(read)).toBe('allow');
    expect(decide(read, { tainted: true })).toBe('allow');
    expect(decide(write)).toBe('needs_approval');
    expect(decide(readRequired)).toBe('needs_approval');
  });

  it('lets a write configured never run, until the run is tainted', () => {
    expect(decide(writeNever)).toBe('allow');
    expect(decide(writeNever, { tainted: true })).toBe('needs_approval');
  });

  it('always asks for destructive tools', () => {
    expect(decide(destructive)).toBe('needs_approval');
  });

  it('denies tools outside the agent list or the channel allowlist, before anything else', () => {
    expect(decide(read, { agentTools: ['refund_order'] })).toBe('deny');
    expect(decide(read, { channelAllowlist: ['refund_order'] })).toBe('deny');
    expect(decide(read, { channelAllowlist: ['get_order'] })).toBe('allow');
    expect(decide(destructive, { channelAllowlist: [] })).toBe('deny');
  });
});
