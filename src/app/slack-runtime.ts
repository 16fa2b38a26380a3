import type { Logger } from '../core/ports.ts';
import type { Steward, StewardOptions } from './compose.ts';
import type { Env, SlackEnv } from './env.ts';
import { startRuntime } from './runtime.ts';
import { createSlackConnector, type SlackConnector } from './slack-connector.ts';

export interface SlackRuntime {
  readonly steward: Steward;
  /** The HTTP port events (HTTP mode) and the health probes are served on. */
  readonly port: number;
  readonly botUserId: string;
  close(): Promise<void>;
}

export type SlackRuntimeOptions = Omit<StewardOptions, 'surface' | 'logger' | 'env'> & {
  readonly env: Env & { readonly slack: SlackEnv };
  readonly logger?: Logger;
};

/** Steward on Slack alone (tests, and deployments that only use Slack). */
export async function startSlackRuntime(options: SlackRuntimeOptions): Promise<SlackRuntime> {
  let slack: SlackConnector | undefined;
  const runtime = await startRuntime({
    ...options,
    connectors: (context) => {
      slack = createSlackConnector(options.env.slack, options.config, options.env.port, context);
      return [slack];
    },
  });
  return {
    steward: runtime.steward,
    port: slack?.port() ?? options.env.port,
    botUserId: slack?.botUserId() ?? '',
    close: () => runtime.close(),
  };
}
