import { PermissionFlagsBits, REST, Routes, SlashCommandBuilder } from 'discord.js';

/** /steward with its subcommands; the same meaning as on Slack, answered by the same router. */
export function stewardCommand() {
  return (
    new SlashCommandBuilder()
      .setName('steward')
      .setDescription("Steward's status, pause / resume, and a run's audit trail")
      // Admin-only by default; the router checks again, since server admins can change who sees it.
      .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild)
      .addSubcommand((sub) => sub.setName('help').setDescription('What /steward can do'))
      .addSubcommand((sub) =>
        sub.setName('status').setDescription("This channel's agent, active runs and approvals"),
      )
      .addSubcommand((sub) => sub.setName('pause').setDescription('Stop new runs in this channel'))
      .addSubcommand((sub) => sub.setName('resume').setDescription('Allow new runs in this channel again'))
      .addSubcommand((sub) =>
        sub
          .setName('audit')
          .setDescription("A run's timeline")
          .addStringOption((option) =>
            option.setName('run_id').setDescription('The run id').setRequired(true),
          ),
      )
      .toJSON()
  );
}

export interface RegisterOptions {
  readonly token: string;
  readonly applicationId: string;
  readonly apiUrl?: string | undefined;
  /** One guild (instant, for development); globally when absent (may take up to an hour to show). */
  readonly guildId?: string | undefined;
}

/** Registers /steward, replacing the application's commands in that scope. */
export async function registerDiscordCommands(options: RegisterOptions): Promise<string> {
  const rest = new REST(options.apiUrl ? { api: options.apiUrl } : {}).setToken(options.token);
  const route = options.guildId
    ? Routes.applicationGuildCommands(options.applicationId, options.guildId)
    : Routes.applicationCommands(options.applicationId);
  await rest.put(route, { body: [stewardCommand()] });
  return options.guildId ? `in guild ${options.guildId}` : 'globally';
}
