import { createSlackApp, type SlackApp } from '../../adapters/slack/slack-app.ts';
import { createSlackDirectory } from '../../adapters/slack/slack-directory.ts';
import { registerSlackListeners } from '../../adapters/slack/slack-listeners.ts';
import { createSlackSurface } from '../../adapters/slack/slack-surface.ts';
import type { Logger } from '../core/ports.ts';
import { createRedactor } from '../core/redaction.ts';
import { createSteward, type Steward, type StewardOptions, stewardSecrets } from './compose.ts';
import type { StewardConfig } from './config-file.ts';
import type { Env, SlackEnv } from './env.ts';
import { createLogger } from './logger.ts';

export interface SlackRuntime {
  readonly steward: Steward;
  readonly slack: SlackApp;
  /** The HTTP port events (HTTP mode) and the health probes are served on. */
  readonly port: number;
  readonly botUserId: string;
  close(): Promise<void>;
}

export type SlackRuntimeOptions = Omit<StewardOptions, 'surface' | 'logger' | 'env'> & {
  readonly env: Env & { readonly slack: SlackEnv };
  readonly logger?: Logger;
};

/**
 * Steward on Slack: the Bolt app, its surface and listeners, and the durable core, wired together.
 * The Slack surface is given to the core; the core's service and command router to the listeners.
 */
export async function startSlackRuntime(options: SlackRuntimeOptions): Promise<SlackRuntime> {
  const { env, config } = options;
  const logger =
    options.logger ??
    createLogger({
      level: options.logLevel ?? env.logLevel,
      redact: createRedactor(stewardSecrets(env, config)),
      ...(options.logDestination ? { destination: options.logDestination } : {}),
    });
  let steward: Steward | undefined;
  const slack = createSlackApp({
    botToken: env.slack.botToken,
    signingSecret: env.slack.signingSecret,
    appToken: env.slack.appToken,
    apiUrl: env.slack.apiUrl,
    port: env.port,
    logger,
    isReady: async () => (steward ? steward.isReady() : false),
  });
  const botUserId = await slack.identify();
  steward = await createSteward({
    ...options,
    logger,
    surface: ({ refs }) =>
      createSlackSurface({ client: slack.client, refs, logger, approvers: config.approvals.approvers.slack }),
  });
  registerSlackListeners(slack.app, {
    service: steward.service,
    router: steward.commands,
    directory: createSlackDirectory({ client: slack.client, groups: userGroupsIn(config), logger }),
    botUserId,
    respondToBots: false,
    logger,
  });
  const port = await slack.start();
  logger.info({ port, mode: env.slack.appToken ? 'socket' : 'http' }, 'Steward is connected to Slack');
  const running = steward;
  return {
    steward: running,
    slack,
    port,
    botUserId,
    async close() {
      await slack.stop();
      await running.close();
    },
  };
}

/** Slack user-group ids (S…) named in the config, whose members Steward must be able to look up. */
function userGroupsIn(config: StewardConfig): string[] {
  const ids = [
    ...config.approvals.approvers.slack,
    ...config.admins.slack,
    ...config.escalation.notify.slack,
  ];
  return [...new Set(ids.filter((id) => id.startsWith('S')))];
}
