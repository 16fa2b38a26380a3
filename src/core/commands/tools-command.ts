import { recordChange, type StewardSubcommand, type SubcommandContext } from './subcommand.ts';

export const TOOLS_USAGE = 'Usage: /steward tools | /steward tools allow <tool> | /steward tools deny <tool>';

const list = (tools: readonly string[]): string =>
  tools.length === 0 ? 'none' : tools.map((t) => `\`${t}\``).join(', ');

/** The channel's agent and the tools it may use here (every tool of the agent when no allowlist is set). */
async function channelTools(context: SubcommandContext) {
  const { invocation, options } = context;
  const settings = await options.channels.get(invocation.channel);
  const agent = settings.agent ?? options.defaultAgent;
  const agentTools = options.agentTools(agent);
  const allowed = settings.toolAllowlist ?? agentTools;
  return { agent, agentTools, allowlist: settings.toolAllowlist, allowed };
}

async function show(context: SubcommandContext): Promise<string> {
  const { agent, agentTools, allowlist, allowed } = await channelTools(context);
  const denied = agentTools.filter((tool) => !allowed.includes(tool));
  return [
    `Agent here: ${agent}`,
    allowlist === null
      ? `Allowed here: every tool of the agent (${list(agentTools)})`
      : `Allowed here: ${list(allowed.filter((tool) => agentTools.includes(tool)))}`,
    `Denied here: ${list(denied)}`,
    '`/steward tools allow <tool>` and `/steward tools deny <tool>` change it.',
  ].join('\n');
}

async function change(context: SubcommandContext, verb: 'allow' | 'deny', tool: string): Promise<string> {
  const { invocation, options } = context;
  const { agent, agentTools, allowlist, allowed } = await channelTools(context);
  if (!agentTools.includes(tool)) {
    return `\`${tool}\` is not one of ${agent}'s tools (${list(agentTools)}).`;
  }
  const isAllowed = allowed.includes(tool);
  if (verb === 'allow' && isAllowed) return `\`${tool}\` is already allowed in this channel.`;
  if (verb === 'deny' && !isAllowed) return `\`${tool}\` is already denied in this channel.`;
  const next = verb === 'allow' ? [...allowed, tool] : allowed.filter((name) => name !== tool);
  await options.channels.update(invocation.channel, { toolAllowlist: next });
  await recordChange(context, { setting: 'tools', scope: 'channel', old: allowlist, new: next });
  return verb === 'allow'
    ? `Allowed \`${tool}\` in this channel. Allowed here now: ${list(next)}.`
    : `Denied \`${tool}\` in this channel; runs starting from now cannot use it. Allowed here now: ${list(next)}.`;
}

export const TOOLS_SUBCOMMAND: StewardSubcommand = {
  name: 'tools',
  usage: 'tools [allow|deny <tool>]',
  summary: 'the tools Steward may use in this channel; admins allow or deny one',
  adminOnly: true,
  accepts: (args) =>
    args.length === 0 || (args.length === 2 && ['allow', 'deny'].includes(args[0]?.toLowerCase() ?? '')),
  run: async (context) => {
    const [verb, tool] = context.args;
    if (verb === undefined || tool === undefined) return show(context);
    return change(context, verb.toLowerCase() === 'allow' ? 'allow' : 'deny', tool);
  },
};
