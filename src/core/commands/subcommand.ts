import type { AdminAuditLog } from '../admin-audit.ts';
import type { Breakers } from '../budget/breakers.ts';
import type { BreakerStore, BudgetStore } from '../budget/budget-store.ts';
import type { Clock, Logger } from '../ports.ts';
import type { ChannelSettingsStore, RunStore } from '../stores.ts';
import type { CommandInvocation } from './command-types.ts';

export interface StewardCommandRouterOptions {
  readonly runs: RunStore;
  readonly channels: ChannelSettingsStore;
  readonly audit: { timeline(runId: string): Promise<string[]> };
  /** The user ids the config names as admins on a platform. */
  readonly admins: (platform: string) => readonly string[];
  /** The agent of a channel without its own setting. */
  readonly defaultAgent: string;
  /** The tools an agent has (what `/steward tools` can allow or deny). */
  readonly agentTools: (agent: string) => readonly string[];
  /** Who changed which setting, when, from what to what. */
  readonly changes: AdminAuditLog;
  /** Budgets and breakers; without them `budget` says budgets are off. */
  readonly budgets?: {
    readonly store: BudgetStore;
    readonly breakerStore: BreakerStore;
    readonly breakers: Breakers;
  };
  readonly clock: Clock;
  readonly logger: Logger;
  /** Cap on the timeline part of an `audit` reply; the default keeps a reply within Discord's 2,000 characters. */
  readonly maxTimelineChars?: number;
}

export interface SubcommandContext {
  readonly invocation: CommandInvocation;
  readonly args: readonly string[];
  readonly options: StewardCommandRouterOptions;
  readonly log: Logger;
}

/** One `/steward` subcommand; adding a subcommand is adding one entry to the router's table. */
export interface StewardSubcommand {
  readonly name: string;
  /** As shown in the usage line, e.g. `audit <runId>`. */
  readonly usage: string;
  /** One line for `help`. */
  readonly summary: string;
  readonly adminOnly: boolean;
  /** Whether the words after the name fit; anything else gets the usage line. */
  readonly accepts: (args: readonly string[]) => boolean;
  readonly run: (context: SubcommandContext) => Promise<string>;
}

export const exactly =
  (count: number) =>
  (args: readonly string[]): boolean =>
    args.length === count;

export const anyArgs = (): boolean => true;

/** Records an admin's change in the admin audit trail of the invocation's workspace. */
export async function recordChange(
  context: SubcommandContext,
  change: { readonly setting: string; readonly scope: string; readonly old: unknown; readonly new: unknown },
): Promise<void> {
  const { invocation, options, log } = context;
  const entry = {
    ...change,
    by: invocation.userId,
    at: options.clock.now(),
    platform: invocation.channel.platform,
    tenantId: invocation.channel.tenantId,
    channelId: invocation.channel.channelId,
  };
  log.info({ change: entry }, `admin changed ${change.setting}`);
  await options.changes.record(entry);
}
