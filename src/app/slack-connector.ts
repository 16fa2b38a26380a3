import { createSlackApp } from '../../adapters/slack/slack-app.ts';
import { createSlackDirectory } from '../../adapters/slack/slack-directory.ts';
import { registerSlackListeners } from '../../adapters/slack/slack-listeners.ts';
import { createSlackSurface } from '../../adapters/slack/slack-surface.ts';
import type { StewardConfig } from './config-file.ts';
import type { SlackEnv } from './env.ts';
import type { ConnectorContext, PlatformConnector } from './platform-connector.ts';

export interface SlackConnector extends PlatformConnector {
  /** The HTTP port events (HTTP mode) and the health probes are served on; known after start. */
  port(): number;
  botUserId(): string;
}

/** Slack as a platform connector: the Bolt app, its surface and its listeners. */
export function createSlackConnector(
  slackEnv: SlackEnv,
  config: StewardConfig,
  port: number,
  context: ConnectorContext,
): SlackConnector {
  const { logger } = context;
  const slack = createSlackApp({
    botToken: slackEnv.botToken,
    signingSecret: slackEnv.signingSecret,
    appToken: slackEnv.appToken,
    apiUrl: slackEnv.apiUrl,
    port,
    logger,
    isReady: context.isReady,
  });
  let botUserId = '';
  let boundPort = port;
  return {
    platform: 'slack',
    port: () => boundPort,
    botUserId: () => botUserId,
    async prepare() {
      botUserId = await slack.identify();
    },
    surface: ({ refs }) =>
      createSlackSurface({ client: slack.client, refs, logger, approvers: config.approvals.approvers.slack }),
    attach(steward) {
      registerSlackListeners(slack.app, {
        service: steward.service,
        router: steward.commands,
        directory: createSlackDirectory({ client: slack.client, groups: userGroupsIn(config), logger }),
        botUserId,
        respondToBots: false,
        logger,
      });
    },
    async start() {
      boundPort = await slack.start();
      logger.info({ port: boundPort, mode: slackEnv.appToken ? 'socket' : 'http' }, 'Slack connected');
    },
    // The Web API client posts with the bot token alone; only the health probes are served.
    async startSending() {
      boundPort = await slack.serveProbes();
      logger.info({ port: boundPort }, 'Slack connected for sending only (health probes served)');
    },
    stop: () => slack.stop(),
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
