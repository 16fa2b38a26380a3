import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createWriteRider } from '../../../src/app/write-rider.ts';

describe('write rider', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('holds sends until the next flush, then sends them in order, once', () => {
    const rider = createWriteRider({ maxDelayMs: 1_000 });
    const sent: number[] = [];
    rider.defer(() => sent.push(1));
    rider.defer(() => sent.push(2));
    expect(sent).toEqual([]);
    rider.flush();
    expect(sent).toEqual([1, 2]);
    rider.flush();
    vi.advanceTimersByTime(2_000);
    expect(sent).toEqual([1, 2]);
  });

  it('sends on its own after maxDelayMs when no write comes to ride', () => {
    const rider = createWriteRider({ maxDelayMs: 20 });
    const sent: string[] = [];
    rider.defer(() => sent.push('settle'));
    vi.advanceTimersByTime(19);
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(sent).toEqual(['settle']);
  });

  it('a flush cancels the fallback timer, so a later send waits its own full delay', () => {
    const rider = createWriteRider({ maxDelayMs: 30 });
    const sent: string[] = [];
    rider.defer(() => sent.push('a'));
    vi.advanceTimersByTime(20);
    rider.flush();
    rider.defer(() => sent.push('b'));
    // The first timer would have fired at 30 ms had the flush not cancelled it.
    vi.advanceTimersByTime(15);
    expect(sent).toEqual(['a']);
    vi.advanceTimersByTime(15);
    expect(sent).toEqual(['a', 'b']);
  });
});
