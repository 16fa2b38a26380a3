import type { Logger } from './ports.ts';

/**
 * A child logger made only when something is logged through it. pino serialises (and redacts) a
 * child's bindings when the child is made, about 20 KB of garbage per run when one is made per
 * run, job and tool call; most of them never log anything. A class, so making one allocates one
 * small object rather than a closure per method.
 */
class LazyChild implements Logger {
  #real: Logger | undefined;
  readonly #parent: Logger;
  readonly #bindings: Record<string, unknown>;

  constructor(parent: Logger, bindings: Record<string, unknown>) {
    this.#parent = parent;
    this.#bindings = bindings;
  }

  #made(): Logger {
    this.#real ??= this.#parent.child(this.#bindings);
    return this.#real;
  }

  debug(obj: object, msg?: string): void {
    this.#made().debug(obj, msg);
  }

  info(obj: object, msg?: string): void {
    this.#made().info(obj, msg);
  }

  warn(obj: object, msg?: string): void {
    this.#made().warn(obj, msg);
  }

  error(obj: object, msg?: string): void {
    this.#made().error(obj, msg);
  }

  child(more: Record<string, unknown>): Logger {
    return new LazyChild(this.#parent, { ...this.#bindings, ...more });
  }
}

export function lazyChild(parent: Logger, bindings: Record<string, unknown>): Logger {
  return new LazyChild(parent, bindings);
}
