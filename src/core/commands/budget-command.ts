import {
  BUDGET_PERIODS,
  BUDGET_UNITS,
  type BudgetPeriod,
  type BudgetScope,
  type BudgetUnit,
  formatAmount,
  LIMIT_KEYS,
  limitKey,
  type ScopeKind,
  scopesFor,
  splitLimitKey,
} from '../budget/budget.ts';
import type { LimitUsage, ScopeReport } from '../budget/budget-store.ts';
import type { CommandInvocation } from './command-types.ts';
import { anyArgs, recordChange, type StewardSubcommand, type SubcommandContext } from './subcommand.ts';

export const BUDGET_USAGE = [
  'Usage: /steward budget',
  '/steward budget set <channel|workspace|user @someone> <tokens|usd> <amount> <day|month>',
  '/steward budget clear <channel|workspace|user @someone>',
].join(' | ');

/** Tokens must be whole; dollars may have cents. No signs, exponents, suffixes ("10k") or NaN. */
const AMOUNT_PATTERN = /^\d{1,15}(\.\d{1,6})?$/;
const MAX_USD = 1_000_000_000;

// Slack escapes a mention as <@U012ABC|jane> (should_escape), Discord as <@123> or <@!123>.
const MENTION_PATTERN = /^<@!?([A-Z0-9]+|\d{17,20})(\|[^>]*)?>$/;
const BARE_ID_PATTERN = /^([UW][A-Z0-9]{2,}|\d{17,20})$/;

type ScopeTarget = { readonly kind: ScopeKind; readonly userId?: string; readonly label: string };

/** `channel`, `workspace` (or `server` on Discord), `user <mention>`; the words it used up. */
function parseScope(args: readonly string[]): { target: ScopeTarget; used: number } | string {
  const [word = '', mention] = args;
  switch (word.toLowerCase()) {
    case 'channel':
      return { target: { kind: 'channel', label: 'this channel' }, used: 1 };
    case 'workspace':
    case 'server':
      return { target: { kind: 'workspace', label: `this ${word.toLowerCase()}` }, used: 1 };
    case 'user': {
      const id = MENTION_PATTERN.exec(mention ?? '')?.[1] ?? BARE_ID_PATTERN.exec(mention ?? '')?.[1];
      if (!id) return 'Name the person with a mention, e.g. `user @jane`.';
      return { target: { kind: 'user', userId: id, label: `<@${id}>` }, used: 2 };
    }
    default:
      return `Unknown scope \`${word}\`: use channel, workspace or user @someone.`;
  }
}

function scopeOf(invocation: CommandInvocation, target: ScopeTarget): BudgetScope {
  const scopes = scopesFor({ conversation: invocation.channel, userId: target.userId ?? invocation.userId });
  const scope = scopes.find((candidate) => candidate.kind === target.kind);
  if (!scope) throw new Error(`no ${target.kind} scope`);
  return scope;
}

function parseAmount(text: string, unit: BudgetUnit): number | string {
  if (!AMOUNT_PATTERN.test(text)) {
    return `\`${text}\` is not an amount: write a plain number ≥ 0 such as ${unit === 'usd' ? '25 or 12.50' : '200000'}.`;
  }
  const value = Number(text);
  if (unit === 'tokens' && !Number.isSafeInteger(value)) return 'A token limit is a whole number of tokens.';
  if (unit === 'usd' && value > MAX_USD)
    return `A dollar limit can be at most ${MAX_USD.toLocaleString('en-US')}.`;
  return value;
}

const within = <T extends string>(values: readonly T[], word: string | undefined): T | undefined =>
  values.find((value) => value === word?.toLowerCase());

type Budgets = NonNullable<SubcommandContext['options']['budgets']>;

/** How an admin change names the scope in the audit trail. */
const auditScope = (target: ScopeTarget): string =>
  target.kind === 'user' ? `user ${target.userId}` : target.kind;

async function setLimit(context: SubcommandContext, budgets: Budgets): Promise<string> {
  const { invocation } = context;
  const scoped = parseScope(context.args.slice(1));
  if (typeof scoped === 'string') return `${scoped}\n${BUDGET_USAGE}`;
  const [unitWord, amountWord, periodWord, ...rest] = context.args.slice(1 + scoped.used);
  const unit = within<BudgetUnit>(BUDGET_UNITS, unitWord);
  const period = within<BudgetPeriod>(BUDGET_PERIODS, periodWord);
  if (!unit || !period || amountWord === undefined || rest.length > 0) return BUDGET_USAGE;
  const amount = parseAmount(amountWord, unit);
  if (typeof amount === 'string') return `${amount}\n${BUDGET_USAGE}`;

  const key = limitKey(unit, period);
  const scope = scopeOf(invocation, scoped.target);
  const { old } = await budgets.store.setLimit(scope, key, amount);
  await recordChange(context, {
    setting: `budget.${key}`,
    scope: auditScope(scoped.target),
    old,
    new: amount,
  });
  const before = old === null ? 'the config default' : formatAmount(unit, old);
  return `Set: ${scoped.target.label} may use ${formatAmount(unit, amount)} per ${period} (was ${before}). It applies from the next model call.`;
}

async function clearLimits(context: SubcommandContext, budgets: Budgets): Promise<string> {
  const { invocation } = context;
  const scoped = parseScope(context.args.slice(1));
  if (typeof scoped === 'string') return `${scoped}\n${BUDGET_USAGE}`;
  if (context.args.length !== 1 + scoped.used) return BUDGET_USAGE;
  const old = await budgets.store.clearLimits(scopeOf(invocation, scoped.target));
  const keys = Object.keys(old);
  if (keys.length === 0)
    return `${capitalize(scoped.target.label)} had no limits of its own; the config defaults apply.`;
  await recordChange(context, {
    setting: 'budget',
    scope: auditScope(scoped.target),
    old,
    new: null,
  });
  return `Cleared ${keys.length === 1 ? 'the limit' : `${keys.length} limits`} set for ${scoped.target.label}; the config defaults apply again.`;
}

async function showBudgets(context: SubcommandContext, budgets: Budgets): Promise<string> {
  const { invocation, options } = context;
  const now = options.clock.now();
  const scopes = scopesFor({ conversation: invocation.channel, userId: invocation.userId });
  const reports = await budgets.store.report(scopes, now);
  const workspace = invocation.channel.platform === 'discord' ? 'This server' : 'This workspace';
  const titles: Record<ScopeKind, string> = { channel: 'This channel', workspace, user: 'You' };
  return [
    'Budgets (UTC days and months):',
    ...reports.map((report) => formatScope(titles[report.scope.kind], report, now)),
    'Admins change them with `/steward budget set …` and `/steward budget clear …`.',
  ].join('\n');
}

function formatScope(title: string, report: ScopeReport, now: number): string {
  const lines = LIMIT_KEYS.map((key) => report.limits.find((entry) => entry.key === key)).flatMap((entry) =>
    entry ? [formatLimit(entry, now)] : [],
  );
  return [`*${title}*`, ...lines].join('\n');
}

function formatLimit(entry: LimitUsage, now: number): string {
  const { unit, period } = splitLimitKey(entry.key);
  const used = formatAmount(unit, entry.used);
  const label = `${unit === 'usd' ? 'spend' : 'tokens'} per ${period}`;
  if (entry.limit === null) return `• ${label}: ${used} used, no limit`;
  const source = entry.source === 'override' ? 'set by an admin' : 'config default';
  const hours = Math.max(Math.ceil((entry.resetsAt - now) / 3_600_000), 0);
  const state = entry.used >= entry.limit ? ' — USED UP' : '';
  return `• ${label}: ${used} of ${formatAmount(unit, entry.limit)} (${source})${state}, resets in ${hours}h`;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export const BUDGET_SUBCOMMAND: StewardSubcommand = {
  name: 'budget',
  usage: 'budget [set <scope> <tokens|usd> <amount> <day|month> | clear <scope>]',
  summary: 'usage against limits for this channel, this workspace and you; admins set or clear limits',
  adminOnly: true,
  accepts: anyArgs,
  run: async (context) => {
    const budgets = context.options.budgets;
    if (!budgets) return 'Budgets are not kept by this Steward.';
    const [action] = context.args;
    if (action === undefined) return showBudgets(context, budgets);
    if (action.toLowerCase() === 'set') return setLimit(context, budgets);
    if (action.toLowerCase() === 'clear') return clearLimits(context, budgets);
    return BUDGET_USAGE;
  },
};
