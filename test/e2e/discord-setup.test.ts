import { GatewayIntentBits, PermissionFlagsBits } from 'discord.js';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createDiscordClient } from '../../adapters/discord/discord-client.ts';
import { registerDiscordCommands } from '../../adapters/discord/discord-commands.ts';
import { ConfigError } from '../../src/core/errors.ts';
import { type FakeDiscord, startFakeDiscord } from '../fakes/fake-discord.ts';

let discord: FakeDiscord | undefined;
afterEach(async () => {
  await discord?.close();
  discord = undefined;
});

describe('Discord setup', () => {
  it('registers /steward for one guild with its subcommands, limited to Manage Server by default', async () => {
    discord = await startFakeDiscord();

    const where = await registerDiscordCommands({
      token: 'fake-discord-bot-token-000001',
      applicationId: discord.applicationId,
      apiUrl: discord.apiUrl,
      guildId: discord.guildId,
    });

    expect(where).toBe(`in guild ${discord.guildId}`);
    const put = await discord.waitForCall(
      'PUT',
      new RegExp(`^/applications/${discord.applicationId}/guilds/${discord.guildId}/commands$`),
    );
    const [command] = put.body as Array<{
      name: string;
      default_member_permissions: string;
      options: Array<{ name: string }>;
    }>;
    expect(command?.name).toBe('steward');
    expect(command?.default_member_permissions).toBe(PermissionFlagsBits.ManageGuild.toString());
    expect(command?.options.map((o) => o.name)).toEqual([
      'help',
      'status',
      'pause',
      'resume',
      'budget',
      'tools',
      'audit',
    ]);
  });

  it('stops start-up with the switch to turn on when the Message Content intent is not allowed', async () => {
    discord = await startFakeDiscord({
      intentsAllowed:
        GatewayIntentBits.Guilds | GatewayIntentBits.GuildMessages | GatewayIntentBits.DirectMessages,
    });
    const client = createDiscordClient({
      token: 'fake-discord-bot-token-000001',
      apiUrl: discord.apiUrl,
      logger: pino({ level: 'silent' }),
    });

    const error = await client.login().catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('turn on "Message Content Intent"');
    await client.destroy();
  });
});
