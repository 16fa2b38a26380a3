import { describe, expect, it } from 'vitest';
import { closeOnSignals } from '../../../src/app/shutdown.ts';

describe('closing on signals', () => {
  it('closes once however many SIGTERM and SIGINT arrive, then finishes', async () => {
    let closes = 0;
    let finished = 0;
    const before = { term: process.listenerCount('SIGTERM'), int: process.listenerCount('SIGINT') };
    closeOnSignals(
      async () => {
        closes += 1;
        await new Promise((resolve) => setTimeout(resolve, 20));
      },
      () => {
        finished += 1;
      },
    );
    try {
      process.emit('SIGTERM');
      process.emit('SIGTERM');
      process.emit('SIGINT');
      await new Promise((resolve) => setTimeout(resolve, 60));
      expect([closes, finished]).toEqual([1, 1]);
    } finally {
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        const listeners = process.listeners(signal);
        const keep = signal === 'SIGTERM' ? before.term : before.int;
        for (const listener of listeners.slice(keep)) process.off(signal, listener);
      }
    }
  });
});
