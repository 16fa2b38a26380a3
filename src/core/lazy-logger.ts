import type { Logger } from './ports.ts';

/**
 * A child logger made only when something is logged through it. pino serialises (and redacts) a
 * child's bindings when the child is made, about 20 KB of garbage per run when one is made per
 * run, job and tool call; most of them never log anything.
 */
export function lazyChild(parent: Logger, bindings: Record<string, unknown>): Logger {
  let real: Logger | undefined;
  const made = (): Logger => {
    real ??= parent.child(bindings);
    return real;
  };
  return {
    debug: (obj, msg) => made().debug(obj, msg),
    info: (obj, msg) => made().info(obj, msg),
    warn: (obj, msg) => made().warn(obj, msg),
    error: (obj, msg) => made().error(obj, msg),
    child: (more) => lazyChild(parent, { ...bindings, ...more }),
  };
}
