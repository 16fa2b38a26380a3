import type { AgentProfile } from './agent-profile.ts';
import type { RunState } from './run-state.ts';

export interface Fabrication {
  /** What the identifier is ("order number"). */
  readonly name: string;
  readonly value: string;
}

/**
 * Identifiers (per the agent's configured patterns) that the answer cites but no tool result of
 * the run contains. The person's own messages count as a source too: repeating the order number
 * someone asked about is not making it up.
 */
export function fabricatedIdentifiers(answer: string, state: RunState, agent: AgentProfile): Fabrication[] {
  const checks = agent.outputChecks?.identifiers ?? [];
  if (checks.length === 0) return [];
  const sources = state.messages
    .filter((message) => message.role === 'tool' || message.role === 'user')
    .map((message) => message.content)
    .join('\n');
  const found: Fabrication[] = [];
  for (const check of checks) {
    for (const match of answer.matchAll(new RegExp(check.pattern, 'g'))) {
      const value = match[0];
      if (value !== '' && !sources.includes(value) && !found.some((f) => f.value === value)) {
        found.push({ name: check.name, value });
      }
    }
  }
  return found;
}

export function describeFabrications(found: readonly Fabrication[]): string {
  return found.map((f) => `${f.name} ${f.value}`).join(', ');
}
