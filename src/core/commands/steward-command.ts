import type { AdminChange } from '../admin-audit.ts';
import type { ConversationRef } from '../conversation.ts';
import { StateUnavailableError } from '../errors.ts';
import type { ChannelSettings, RunRecord, RunStatus } from '../stores.ts';
import { BUDGET_SUBCOMMAND } from './budget-command.ts';
import type { CommandInvocation, CommandReply, CommandRouter } from './command-types.ts';
import {
  exactly,
  recordChange,
  type StewardCommandRouterOptions,
  type StewardSubcommand,
  type SubcommandContext,
} from './subcommand.ts';
import { TOOLS_SUBCOMMAND } from './tools-command.ts';

export type { StewardCommandRouterOptions } from './subcommand.ts';

const SUBCOMMANDS: readonly StewardSubcommand[] = [
  {
    name: 'help',
    usage: 'help',
    summary: 'what each /steward command does',
    adminOnly: false,
    accepts: exactly(0),
    run: async () => helpText(),
  },
  {
    name: 'status',
    usage: 'status',
    summary: "this channel's agent, whether Steward is paused, runs in progress and pending approvals",
    adminOnly: true,
    accepts: exactly(0),
    run: async ({ invocation, options }) => {
      const [settings, active, breakers] = await Promise.all([
        options.channels.get(invocation.channel),
        options.runs.activeInChannel(invocation.channel),
        options.budgets?.breakers.status() ?? [],
      ]);
      const status = formatStatus({
        settings,
        active,
        defaultAgent: options.defaultAgent,
        now: options.clock.now(),
      });
      return [status, ...breakers].join('\n');
    },
  },
  {
    name: 'pause',
    usage: 'pause',
    summary: 'stop Steward from starting new runs in this channel',
    adminOnly: true,
    accepts: exactly(0),
    run: async (context) => {
      const { invocation, options } = context;
      const settings = await options.channels.get(invocation.channel);
      if (settings.paused)
        return 'Steward is already paused in this channel. `/steward resume` turns it back on.';
      await options.channels.update(invocation.channel, { paused: true });
      await recordChange(context, { setting: 'paused', scope: 'channel', old: false, new: true });
      return 'Paused. Steward will not start new runs in this channel until an admin runs `/steward resume`.';
    },
  },
  {
    name: 'resume',
    usage: 'resume [--global]',
    summary: 'let Steward answer in this channel again after a pause; `--global` lifts a pause everywhere',
    adminOnly: true,
    accepts: (args) => args.length === 0 || (args.length === 1 && args[0] === '--global'),
    run: async (context) => {
      const { invocation, options } = context;
      if (context.args[0] === '--global') return resumeGlobally(context);
      const settings = await options.channels.get(invocation.channel);
      if (!settings.paused) return 'Steward is not paused in this channel, so there is nothing to resume.';
      await options.channels.update(invocation.channel, { paused: false });
      await recordChange(context, { setting: 'paused', scope: 'channel', old: true, new: false });
      return 'Resumed. Steward answers in this channel again.';
    },
  },
  BUDGET_SUBCOMMAND,
  TOOLS_SUBCOMMAND,
  {
    name: 'audit',
    usage: 'audit <runId|changes>',
    summary:
      "one run's audit trail (model calls, tool calls, policy verdicts, approvals, outcome), or admins' recent changes",
    adminOnly: true,
    accepts: exactly(1),
    run: async ({ invocation, args, options }) => {
      const runId = args[0] ?? '';
      if (runId === 'changes') {
        return formatChanges(await options.changes.recent(invocation.channel, MAX_LISTED_CHANGES));
      }
      const run = await options.runs.get(runId);
      if (run === undefined) return `I have no run with id \`${runId}\` (it may be mistyped, or it expired).`;
      // The reply is shown in this channel, so another channel's history must not leak into it.
      if (!sameChannel(run.conversation, invocation.channel)) {
        return `Run \`${runId}\` belongs to another channel. Use \`/steward audit\` in that channel to see it.`;
      }
      const lines = await options.audit.timeline(runId);
      return formatAuditReply(runId, lines, options.maxTimelineChars);
    },
  },
];

/** The line shown for an empty, unknown or malformed `/steward` command. */
export const STEWARD_USAGE = `Usage: /steward ${SUBCOMMANDS.map((command) => command.usage).join(' | ')}`;

const STATE_UNAVAILABLE_REPLY = 'I cannot reach my state store right now; try again in a minute.';

/**
 * `/steward` for admins: status, the channel kill switch and audit trails. Platform-neutral: an
 * adapter turns the slash command into a CommandInvocation and shows the reply to its author only.
 * Never rejects: every failure becomes a reply.
 */
export function createStewardCommandRouter(options: StewardCommandRouterOptions): CommandRouter {
  const isAdmin = (invocation: CommandInvocation): boolean =>
    invocation.isPlatformAdmin || options.admins(invocation.channel.platform).includes(invocation.userId);

  return {
    async handle(invocation): Promise<CommandReply> {
      const [name = '', ...args] = invocation.text.trim().split(/\s+/).filter(Boolean);
      const command = SUBCOMMANDS.find((candidate) => candidate.name === name.toLowerCase());
      if (command === undefined) return { text: STEWARD_USAGE };
      // Refuse before looking at the arguments, so a non-admin learns nothing from a typo either.
      if (command.adminOnly && !isAdmin(invocation)) {
        return { text: refusal(invocation.channel.platform, command.name) };
      }
      if (!command.accepts(args)) return { text: STEWARD_USAGE };

      const log = options.logger.child({
        command: `steward ${command.name}`,
        channel: invocation.channel,
        userId: invocation.userId,
      });
      try {
        return { text: await command.run({ invocation, args, options, log }) };
      } catch (error) {
        if (error instanceof StateUnavailableError) {
          log.warn({ err: error }, '/steward: state store unreachable');
          return { text: STATE_UNAVAILABLE_REPLY };
        }
        log.error({ err: error }, '/steward failed');
        return {
          text: `Something went wrong running \`/steward ${command.name}\`; the details are in my logs.`,
        };
      }
    },
  };
}

async function resumeGlobally(context: SubcommandContext): Promise<string> {
  const { invocation, options } = context;
  if (!options.budgets) return 'Steward is not paused everywhere, so there is nothing to resume.';
  const lifted = await options.budgets.breakerStore.resumeGlobally(invocation.userId, options.clock.now());
  if (!lifted) return 'Steward is not paused everywhere, so there is nothing to resume.';
  await recordChange(context, { setting: 'global-pause', scope: 'global', old: lifted, new: null });
  return `Resumed everywhere: new runs start again in every channel (the pause was: ${lifted.reason}). The cost-spike breaker stays quiet for the next hour.`;
}

const MAX_LISTED_CHANGES = 10;

function formatChanges(changes: readonly AdminChange[]): string {
  if (changes.length === 0) return 'No admin changes are recorded for this workspace.';
  const lines = changes.map((change) => {
    const at = new Date(change.at).toISOString().slice(0, 16).replace('T', ' ');
    return `${at} UTC <@${change.by}> ${change.setting} (${change.scope}) in <#${change.channelId}>: ${JSON.stringify(change.old)} → ${JSON.stringify(change.new)}`;
  });
  return [`The last ${plural(changes.length, 'admin change')}, newest first:`, ...lines].join('\n');
}

function helpText(): string {
  const lines = SUBCOMMANDS.map(
    (command) =>
      `• \`/steward ${command.usage}\`: ${command.summary}${command.adminOnly ? ' (admins only)' : ''}`,
  );
  return ['Steward commands (answers are shown only to you):', ...lines].join('\n');
}

function refusal(platform: string, command: string): string {
  // Discord calls its workspaces servers.
  const platformAdmins = platform === 'discord' ? 'server admins' : 'workspace admins';
  return `Only ${platformAdmins} and the admins in Steward's config can use /steward ${command}.`;
}

function sameChannel(a: ConversationRef, b: ConversationRef): boolean {
  return a.platform === b.platform && a.tenantId === b.tenantId && a.channelId === b.channelId;
}

const DEFAULT_MAX_TIMELINE_CHARS = 1_600;
/** Runs listed by `status`; a busier channel gets a count of the rest. */
const MAX_LISTED_RUNS = 10;
const FENCE = '```';

const STATUS_LABELS: Readonly<Record<RunStatus, string>> = {
  queued: 'queued',
  running: 'running',
  awaiting_approval: 'waiting for approval',
  completed: 'completed',
  escalated: 'escalated',
  failed: 'failed',
  cancelled: 'cancelled',
};

function formatStatus(input: {
  settings: ChannelSettings;
  active: readonly RunRecord[];
  defaultAgent: string;
  now: number;
}): string {
  const { settings, active, now } = input;
  const agent = settings.agent ?? `${input.defaultAgent} (the default)`;
  const state = settings.paused
    ? 'paused: new messages are refused until an admin runs `/steward resume`'
    : 'on: answering in this channel';
  const lines = [`Agent: ${agent}`, `Steward: ${state}`];

  if (active.length === 0) lines.push('Runs in progress: none');
  else {
    lines.push(`Runs in progress (${active.length}):`);
    for (const run of active.slice(0, MAX_LISTED_RUNS)) {
      lines.push(
        `• \`${run.runId}\` ${STATUS_LABELS[run.status]}, started ${formatAge(now - run.createdAt)} ago`,
      );
    }
    if (active.length > MAX_LISTED_RUNS) lines.push(`• …and ${active.length - MAX_LISTED_RUNS} more`);
  }

  const waiting = active.filter((run) => run.status === 'awaiting_approval');
  if (waiting.length === 0) lines.push('Pending approvals: none');
  else {
    const listed = waiting
      .slice(0, MAX_LISTED_RUNS)
      .map((run) => `\`${run.runId}\` waiting ${formatAge(now - run.updatedAt)}`);
    lines.push(`Pending approvals (${waiting.length}): ${listed.join(', ')}`);
  }
  return lines.join('\n');
}

/** The timeline in a code block, keeping the latest events when it is too long for one message. */
function formatAuditReply(
  runId: string,
  lines: readonly string[],
  maxChars = DEFAULT_MAX_TIMELINE_CHARS,
): string {
  if (lines.length === 0) return `Run \`${runId}\` has no audit events (they may have expired).`;
  // A fence inside a line (tool arguments are free text) would end the code block early.
  const safe = lines.map((line) => line.replaceAll(FENCE, "'''"));
  const kept: string[] = [];
  let used = 0;
  for (let index = safe.length - 1; index >= 0; index -= 1) {
    const line = safe[index] ?? '';
    if (used + line.length + 1 > maxChars) {
      // Always show the latest event, cut to fit.
      if (kept.length === 0) kept.unshift(`${line.slice(0, Math.max(maxChars - 1, 0))}…`);
      break;
    }
    kept.unshift(line);
    used += line.length + 1;
  }
  const total = plural(lines.length, 'event');
  const header =
    kept.length === lines.length
      ? `Audit trail of run \`${runId}\` (${total}):`
      : `Audit trail of run \`${runId}\`, the last ${kept.length} of ${total} (\`npm run audit -- ${runId}\` shows all):`;
  return `${header}\n${FENCE}\n${kept.join('\n')}\n${FENCE}`;
}

function formatAge(ms: number): string {
  const seconds = Math.max(Math.floor(ms / 1000), 0);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
