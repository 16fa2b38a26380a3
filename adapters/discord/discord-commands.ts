import { PermissionFlagsBits, REST, Routes, SlashCommandBuilder } from 'discord.js';

/** /steward with its subcommands; the same meaning as on Slack, answered by the same router. */
export function stewardCommand() {
  const scopeChoices = [
    { name: 'this channel', value: 'channel' },
    { name: 'this server', value: 'server' },
    { name: 'a person', value: 'user' },
  ];
  return (
    new SlashCommandBuilder()
      .setName('steward')
      .setDescription("Steward's status, budgets, tools, pause / resume, and a run's audit trail")
      // Admin-only by default; the router checks again, since server admins can change who sees it.
      .setDefaultMemberPermissions(PermissionFlagsBits.ManageGuild)
      .addSubcommand((sub) => sub.setName('help').setDescription('What /steward can do'))
      .addSubcommand((sub) =>
        sub.setName('status').setDescription("This channel's agent, runs, approvals and the breakers"),
      )
      .addSubcommand((sub) => sub.setName('pause').setDescription('Stop new runs in this channel'))
      .addSubcommand((sub) =>
        sub
          .setName('resume')
          .setDescription('Allow new runs in this channel again')
          .addBooleanOption((option) =>
            option.setName('global').setDescription('Lift a pause of Steward everywhere (a cost spike)'),
          ),
      )
      .addSubcommandGroup((group) =>
        group
          .setName('budget')
          .setDescription('Token and spending limits')
          .addSubcommand((sub) =>
            sub.setName('show').setDescription('Usage against limits: this channel, this server, you'),
          )
          .addSubcommand((sub) =>
            sub
              .setName('set')
              .setDescription('Set one limit of a scope')
              .addStringOption((option) =>
                option
                  .setName('scope')
                  .setDescription('Whose limit')
                  .setRequired(true)
                  .addChoices(...scopeChoices),
              )
              .addStringOption((option) =>
                option
                  .setName('unit')
                  .setDescription('Tokens or US dollars')
                  .setRequired(true)
                  .addChoices({ name: 'tokens', value: 'tokens' }, { name: 'usd', value: 'usd' }),
              )
              // A string, so "10k" or "-5" get Steward's own explanation rather than Discord's.
              .addStringOption((option) =>
                option
                  .setName('amount')
                  .setDescription('A number ≥ 0, e.g. 200000 or 25.50')
                  .setRequired(true),
              )
              .addStringOption((option) =>
                option
                  .setName('period')
                  .setDescription('Per UTC day or month')
                  .setRequired(true)
                  .addChoices({ name: 'day', value: 'day' }, { name: 'month', value: 'month' }),
              )
              .addUserOption((option) =>
                option.setName('user').setDescription('The person, for scope "a person"'),
              ),
          )
          .addSubcommand((sub) =>
            sub
              .setName('clear')
              .setDescription("Return a scope's limits to the config defaults")
              .addStringOption((option) =>
                option
                  .setName('scope')
                  .setDescription('Whose limits')
                  .setRequired(true)
                  .addChoices(...scopeChoices),
              )
              .addUserOption((option) =>
                option.setName('user').setDescription('The person, for scope "a person"'),
              ),
          ),
      )
      .addSubcommand((sub) =>
        sub
          .setName('tools')
          .setDescription('The tools Steward may use in this channel; allow or deny one')
          .addStringOption((option) =>
            option
              .setName('action')
              .setDescription('Allow or deny a tool')
              .addChoices({ name: 'allow', value: 'allow' }, { name: 'deny', value: 'deny' }),
          )
          .addStringOption((option) => option.setName('tool').setDescription('The tool name')),
      )
      .addSubcommand((sub) =>
        sub
          .setName('audit')
          .setDescription("A run's timeline, or `changes` for admins' recent changes")
          .addStringOption((option) =>
            option.setName('run_id').setDescription('The run id, or changes').setRequired(true),
          ),
      )
      .toJSON()
  );
}

/** Values a /steward interaction carries, as the command router's text (the same words as on Slack). */
export interface StewardCommandValues {
  readonly group: string | null;
  readonly subcommand: string | null;
  readonly string: (name: string) => string | null;
  readonly boolean: (name: string) => boolean | null;
  /** A user option's id. */
  readonly user: (name: string) => string | null;
}

export function stewardCommandText(values: StewardCommandValues): string {
  const words = (...parts: (string | null | undefined)[]) => parts.filter((part) => part).join(' ');
  const sub = values.subcommand ?? '';
  if (values.group === 'budget') {
    if (sub === 'show') return 'budget';
    const scope = values.string('scope');
    const user = values.user('user');
    const target = scope === 'user' ? words('user', user ? `<@${user}>` : null) : scope;
    if (sub === 'set') {
      return words(
        'budget set',
        target,
        values.string('unit'),
        values.string('amount'),
        values.string('period'),
      );
    }
    return words('budget', sub, target);
  }
  if (sub === 'resume') return values.boolean('global') ? 'resume --global' : 'resume';
  if (sub === 'tools') return words('tools', values.string('action'), values.string('tool'));
  return words(sub, values.string('run_id'));
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
