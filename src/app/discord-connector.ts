import { createDiscordClient } from '../../adapters/discord/discord-client.ts';
import { registerDiscordListeners } from '../../adapters/discord/discord-listeners.ts';
import { createDiscordSurface, createInteractionReplies } from '../../adapters/discord/discord-surface.ts';
import type { MessageRefStore } from '../core/stores.ts';
import type { StewardConfig } from './config-file.ts';
import type { DiscordEnv } from './env.ts';
import type { ConnectorContext, PlatformConnector } from './platform-connector.ts';

/** Discord as a platform connector: the discord.js client, its surface and its listeners. */
export function createDiscordConnector(
  discordEnv: DiscordEnv,
  config: StewardConfig,
  context: ConnectorContext,
): PlatformConnector {
  const { logger } = context;
  const discord = createDiscordClient({ token: discordEnv.token, apiUrl: discordEnv.apiUrl, logger });
  const replies = createInteractionReplies();
  // Config lists approvers and people to ping by id; whether an id is a role is known to the guild.
  const isRole = (id: string) => discord.client.guilds.cache.some((guild) => guild.roles.cache.has(id));
  let refs: MessageRefStore | undefined;
  return {
    platform: 'discord',
    // The gateway connects at start; identity is learned then (READY).
    prepare: async () => undefined,
    surface: (deps) => {
      refs = deps.refs;
      return createDiscordSurface({
        client: discord.client,
        refs: deps.refs,
        replies,
        logger,
        isRole,
        approvers: config.approvals.approvers.discord,
      });
    },
    attach(steward) {
      if (!refs) throw new TypeError('the Discord surface must be built before listeners attach');
      registerDiscordListeners({
        client: discord.client,
        service: steward.service,
        router: steward.commands,
        refs,
        replies,
        logger,
      });
    },
    async start() {
      const botId = await discord.login();
      logger.info({ botId }, 'Discord connected');
    },
    // Logged in so REST calls carry the token and the guild caches know which ids are roles;
    // with no listeners attached, the events this process receives are dropped.
    async startSending() {
      const botId = await discord.login();
      logger.info({ botId }, 'Discord connected for sending only');
    },
    stop: () => discord.destroy(),
  };
}
