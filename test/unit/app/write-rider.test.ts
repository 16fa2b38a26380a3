import { describe, expect, it } from 'vitest';
import { createWriteRider } from '../../../src/app/write-rider.ts';

describe('write rider', () => {
  it('holds sends until the next flush, then sends them in order, once', () => {
    const rider = createWriteRider({ maxDelayMs: 1_000 });
    const sent: number[] = [];
    rider.defer(() => sent.push(1));
    rider.defer(() => sent.push(2));
    expect(sent).toEqual([]);
    rider.flush();
    expect(sent).toEqual([1, 2]);
    rider.flush();
    expect(sent).toEqual([1, 2]);
  });

  it('sends on its own after maxDelayMs when no write comes to ride', async () => {
    const rider = createWriteRider({ maxDelayMs: 20 });
    const sent: string[] = [];
    rider.defer(() => sent.push('settle'));
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(sent).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(sent).toEqual(['settle']);
  });

  it('a flush cancels the fallback timer, so a later send waits its own full delay', async () => {
    const rider = createWriteRider({ maxDelayMs: 30 });
    const sent: string[] = [];
    rider.defer(() => sent.push('a'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    rider.flush();
    rider.defer(() => sent.push('b'));
    await new Promise((resolve) => setTimeout(resolve, 15));
    // The first timer would have fired by now had the flush not cancelled it.
    expect(sent).toEqual(['a']);
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(sent).toEqual(['a', 'b']);
  });
});
