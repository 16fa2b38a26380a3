import { Client, Events, GatewayIntentBits, Partials } from 'discord.js';
import { ConfigError } from '../../src/core/errors.ts';
import type { Logger } from '../../src/core/ports.ts';

export interface DiscordClientOptions {
  readonly token: string;
  /** REST base (proxies, tests); discord.js learns the gateway address from it. */
  readonly apiUrl?: string | undefined;
  readonly logger: Logger;
}

export interface DiscordClient {
  readonly client: Client;
  /** Logs in and resolves with the bot's user id once the gateway is ready. */
  login(): Promise<string>;
  destroy(): Promise<void>;
}

const DISALLOWED_INTENTS =
  'Discord refused a privileged intent. In the developer portal, open your application → Bot → Privileged Gateway Intents and turn on "Message Content Intent", then start Steward again.';

/**
 * A discord.js client with the intents Steward needs (Guilds, GuildMessages, MessageContent,
 * DirectMessages) and the Channel partial, without which DMs never arrive.
 */
export function createDiscordClient(options: DiscordClientOptions): DiscordClient {
  const client = new Client({
    intents: [
      GatewayIntentBits.Guilds,
      GatewayIntentBits.GuildMessages,
      GatewayIntentBits.MessageContent,
      GatewayIntentBits.DirectMessages,
    ],
    partials: [Partials.Channel],
    ...(options.apiUrl ? { rest: { api: options.apiUrl } } : {}),
  });
  client.on(Events.Error, (error) => options.logger.error({ err: error }, 'discord client error'));
  client.on(Events.ShardResume, () => options.logger.info({}, 'discord gateway resumed'));
  return {
    client,
    async login() {
      const ready = new Promise<string>((resolve) =>
        client.once(Events.ClientReady, (ready) => resolve(ready.user.id)),
      );
      try {
        await client.login(options.token);
      } catch (error) {
        throw describeLoginError(error);
      }
      return ready;
    },
    destroy: () => client.destroy(),
  };
}

function describeLoginError(error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof Error && 'code' in error ? String(error.code) : '';
  if (/disallowed intent/i.test(message) || code === '4014' || code === 'DisallowedIntents') {
    return new ConfigError('discord', [DISALLOWED_INTENTS]);
  }
  if (/invalid token|TokenInvalid|4004/i.test(`${message} ${code}`)) {
    return new ConfigError('discord', [
      'DISCORD_TOKEN was refused by Discord: copy the token again from the Bot page',
    ]);
  }
  return error instanceof Error ? error : new Error(message);
}
