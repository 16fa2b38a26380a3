import { describe, expect, it } from 'vitest';
import type { RunState } from '../../../src/core/run-state.ts';
import { newRunState } from '../../../src/core/run-state.ts';
import { createCheckpointJournal, isJournal, readJournal } from '../../../src/state/checkpoint-journal.ts';

function state(): RunState {
  return newRunState({
    runId: 'r1',
    traceId: 't1',
    agent: 'support',
    requestedBy: 'U1',
    conversation: { platform: 'slack', tenantId: 'T1', channelId: 'C1', threadId: '1.1' },
    startedAt: 1,
    deadlineAt: 2,
    messages: [{ role: 'user', content: 'hello\nthere' }],
  });
}

/** What Redis would hold after these writes. */
function store(writes: readonly { mode: 'set' | 'append'; value: string }[]): Buffer {
  let value = '';
  for (const write of writes) value = write.mode === 'set' ? write.value : value + write.value;
  return Buffer.from(value);
}

describe('checkpoint journal', () => {
  it('writes a state whole the first time, then only the messages each save added', () => {
    const journal = createCheckpointJournal();
    const run = state();
    const first = journal.encode(run);
    run.messages.push({ role: 'assistant', content: 'hi' });
    run.iterations = 1;
    const second = journal.encode(run);
    const third = journal.encode(run);

    expect(first.mode).toBe('set');
    expect(second).toMatchObject({ mode: 'append' });
    expect(second.value).toContain('"content":"hi"');
    expect(second.value).not.toContain('hello');
    expect(third.value).not.toContain('"content":"hi"');
    const stored = store([first, second, third]);
    expect(isJournal(stored)).toBe(true);
    expect(readJournal(stored)).toEqual(run);
  });

  it('starts over when the message list was replaced, when asked, and after forget', () => {
    const journal = createCheckpointJournal();
    const run = state();
    journal.encode(run);
    run.messages = [{ role: 'user', content: 'other' }];
    expect(journal.encode(run).mode).toBe('set');
    expect(journal.encode(run, { whole: true }).mode).toBe('set');
    journal.forget(run);
    expect(journal.encode(run).mode).toBe('set');
  });

  it('refuses a journal with a line it cannot read or no header', () => {
    expect(() => readJournal(Buffer.from('\u0002\nx{}'))).toThrow(/unreadable line 1/);
    expect(() => readJournal(Buffer.from('\u0002\nm{"role":"user","content":"a"}'))).toThrow(/no header/);
    expect(isJournal(Buffer.from('{"runId":"r1"}'))).toBe(false);
  });
});
