import { registerDiscordCommands } from '../../adapters/discord/discord-commands.ts';
import { readProcessEnv } from './env.ts';
import { describeStartupError, loadSettings } from './startup.ts';

// `npm run discord:register [-- --guild <id>]`: registers /steward for one guild (development) or globally.
try {
  const { env } = loadSettings(readProcessEnv());
  if (!env.discord)
    throw new Error('DISCORD_TOKEN and DISCORD_APPLICATION_ID must be set to register commands');
  const flag = process.argv.indexOf('--guild');
  const guildId = flag >= 0 ? process.argv[flag + 1] : undefined;
  const where = await registerDiscordCommands({ ...env.discord, guildId });
  process.stdout.write(`/steward registered ${where}\n`);
} catch (error) {
  process.stderr.write(describeStartupError(error));
  process.exitCode = 1;
}
