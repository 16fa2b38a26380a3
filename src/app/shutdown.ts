/**
 * Runs `close` once on SIGTERM or SIGINT, then exits 0. A second signal while closing (process
 * managers and wrappers send them) is ignored instead of killing the process mid-shutdown.
 */
export function closeOnSignals(
  close: () => Promise<void>,
  onClosed: () => void = () => process.exit(0),
): void {
  let closing = false;
  const stop = () => {
    if (closing) return;
    closing = true;
    void close().finally(onClosed);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
