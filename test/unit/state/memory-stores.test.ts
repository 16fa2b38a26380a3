import { describe, expect, it } from 'vitest';
import { createMemoryEventDedupe, createMemorySessionStore } from '../../../src/state/memory-stores.ts';

describe('in-memory stores', () => {
  it('claims an event id once, and forgets the oldest beyond its capacity', async () => {
    const dedupe = createMemoryEventDedupe(2);
    expect(await dedupe.claim('a')).toBe(true);
    expect(await dedupe.claim('a')).toBe(false);
    await dedupe.claim('b');
    await dedupe.claim('c');
    expect(await dedupe.claim('a')).toBe(true);
    expect(await dedupe.claim('c')).toBe(false);
  });

  it('keeps the newest messages of a session up to its cap', async () => {
    const sessions = createMemorySessionStore(3);
    await sessions.append('k', [
      { role: 'user', content: '1' },
      { role: 'assistant', content: '2' },
    ]);
    await sessions.append('k', [
      { role: 'user', content: '3' },
      { role: 'assistant', content: '4' },
    ]);
    expect(
      (await sessions.load('k')).map((m) => (m.role === 'user' || m.role === 'assistant' ? m.content : '')),
    ).toEqual(['2', '3', '4']);
    expect(await sessions.load('other')).toEqual([]);
  });
});
