import { describe, expect, it } from 'vitest';
import {
  type StewardCommandValues,
  stewardCommandText,
} from '../../../../adapters/discord/discord-commands.ts';

function values(
  group: string | null,
  subcommand: string | null,
  options: Record<string, string | boolean> = {},
): StewardCommandValues {
  const pick = <T>(name: string, type: string): T | null =>
    typeof options[name] === type ? (options[name] as T) : null;
  return {
    group,
    subcommand,
    string: (name) => pick<string>(name, 'string'),
    boolean: (name) => pick<boolean>(name, 'boolean'),
    user: (name) => pick<string>(name, 'string'),
  };
}

describe('Discord /steward options as the router’s words', () => {
  it.each([
    [values(null, 'status'), 'status'],
    [values(null, 'resume'), 'resume'],
    [values(null, 'resume', { global: false }), 'resume'],
    [values(null, 'resume', { global: true }), 'resume --global'],
    [values(null, 'audit', { run_id: 'changes' }), 'audit changes'],
    [values(null, 'tools'), 'tools'],
    [values(null, 'tools', { action: 'allow', tool: 'get_item' }), 'tools allow get_item'],
    [values('budget', 'show'), 'budget'],
    [
      values('budget', 'set', { scope: 'server', unit: 'usd', amount: '25.50', period: 'month' }),
      'budget set server usd 25.50 month',
    ],
    [
      values('budget', 'set', {
        scope: 'user',
        user: '111111111111111111',
        unit: 'tokens',
        amount: '5',
        period: 'day',
      }),
      'budget set user <@111111111111111111> tokens 5 day',
    ],
    // A person scope without a person reaches the router, which says to name one.
    [
      values('budget', 'set', { scope: 'user', unit: 'tokens', amount: '5', period: 'day' }),
      'budget set user tokens 5 day',
    ],
    [values('budget', 'clear', { scope: 'channel' }), 'budget clear channel'],
    [
      values('budget', 'clear', { scope: 'user', user: '222222222222222222' }),
      'budget clear user <@222222222222222222>',
    ],
  ])('%#: %j → %s', (input, text) => {
    expect(stewardCommandText(input)).toBe(text);
  });
});
