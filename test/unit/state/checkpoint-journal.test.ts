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

  it('appends only the header fields a step changed, in-place changes included', () => {
    const journal = createCheckpointJournal();
    const run = state();
    const first = journal.encode(run);
    run.callCounts.abc = 1;
    run.iterations = 1;
    run.messages.push({ role: 'assistant', content: 'hi' });
    const second = journal.encode(run);
    run.callCounts.abc = 2;
    const third = journal.encode(run);

    expect(second.value).toMatch(/^\nu\{/);
    expect(second.value).toContain('"iterations":1');
    expect(second.value).toContain('"callCounts":{"abc":1}');
    // The conversation, the ids and the deadline were stated once, in the first write.
    expect(second.value).not.toContain('"conversation"');
    expect(second.value).not.toContain('"runId"');
    expect(third.value).toBe('\nu{"callCounts":{"abc":2},"n":2}');
    expect(readJournal(store([first, second, third]))).toEqual(run);
  });

  it('restates the whole header when a field is gone, since an update cannot remove one', () => {
    const journal = createCheckpointJournal();
    const run = state();
    run.pendingApproval = null;
    const first = journal.encode(run);
    const withField = run as RunState & { extra?: string };
    withField.extra = 'x';
    const second = journal.encode(run);
    delete withField.extra;
    const third = journal.encode(run);

    expect(second.value).toBe('\nu{"extra":"x","n":1}');
    expect(third.value).toMatch(/^\nh\{"runId":"r1"/);
    expect(readJournal(store([first, second, third]))).toEqual(run);
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
    expect(() => readJournal(Buffer.from('\u0002\nu{"n":0}'))).toThrow(/update on line 1 before a header/);
    expect(isJournal(Buffer.from('{"runId":"r1"}'))).toBe(false);
  });
});
