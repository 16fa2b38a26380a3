import { describe, expect, it } from 'vitest';
import type { ConversationRef } from '../../../src/core/conversation.ts';
import { channelKeyOf, createKeys, KEY_KINDS, type KeyKind } from '../../../src/state/redis-keys.ts';

describe('createKeys', () => {
  const keys = createKeys('steward:');
  const kinds = Object.keys(KEY_KINDS) as KeyKind[];

  it('puts every key under the prefix, kind first, id last', () => {
    expect(keys.run('r1')).toBe('steward:run:r1');
    expect(keys.session('slack:T1:C1:-')).toBe('steward:session:slack:T1:C1:-');
    expect(keys.pendingApprovals('slack:T1:C1:-')).toBe('steward:approvals-pending:slack:T1:C1:-');
    expect(createKeys().prefix).toBe('steward:');
  });

  it('never gives two different (kind, id) pairs the same key, even with ids containing ":"', () => {
    const ids = ['a', 'a:b', 'run:a', 'checkpoint:a', ':', '', 'approval:x', 'x:approvals-pending'];
    const seen = new Map<string, string>();
    for (const kind of kinds) {
      for (const id of ids) {
        const key = keys[kind](id);
        expect(seen.get(key), `${kind}(${id}) collides`).toBeUndefined();
        seen.set(key, `${kind}(${id})`);
      }
    }
    for (const name of Object.values(KEY_KINDS)) expect(name).not.toContain(':');
    expect(new Set(Object.values(KEY_KINDS)).size).toBe(kinds.length);
  });
});

describe('channelKeyOf', () => {
  it('is platform:tenant:channel without the thread', () => {
    const thread: ConversationRef = {
      platform: 'slack',
      tenantId: 'T1',
      channelId: 'C1',
      threadId: '1700.1',
    };
    const dm: ConversationRef = { ...thread, threadId: null };
    expect(channelKeyOf(thread)).toBe('slack:T1:C1');
    expect(channelKeyOf(dm)).toBe('slack:T1:C1');
  });

  it('escapes ":" inside parts so different channels never share a key', () => {
    const a = channelKeyOf({ platform: 'x', tenantId: 'a:b', channelId: 'c' });
    const b = channelKeyOf({ platform: 'x', tenantId: 'a', channelId: 'b:c' });
    expect(a).not.toBe(b);
    expect(a).toBe('x:a%3Ab:c');
    expect(channelKeyOf({ platform: 'x', tenantId: 'a%3Ab', channelId: 'c' })).not.toBe(a);
  });
});
