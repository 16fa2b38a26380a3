/**
 * Sends that need not go out at once (a budget settlement after a model call) wait here for the
 * next state write, which flushes them first so they leave in the same auto-pipelined Redis write:
 * the same trick the audit sink plays. A send that finds no write to ride within `maxDelayMs` goes
 * on its own.
 */
export interface WriteRider {
  /** Queues a send for the next flush. */
  defer(send: () => void): void;
  /** Sends everything queued, now, in the caller's tick. */
  flush(): void;
}

export function createWriteRider(options: { readonly maxDelayMs: number }): WriteRider {
  let queued: (() => void)[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    clearTimeout(timer);
    timer = undefined;
    if (queued.length === 0) return;
    const sends = queued;
    queued = [];
    for (const send of sends) send();
  };
  return {
    defer(send) {
      queued.push(send);
      // Never keeps a finished process alive; close() flushes.
      timer ??= setTimeout(flush, options.maxDelayMs).unref();
    },
    flush,
  };
}
