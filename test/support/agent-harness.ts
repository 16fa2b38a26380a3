import { pino } from 'pino';
import { afterEach } from 'vitest';
import type { AgentProfile } from '../../src/core/agent-profile.ts';
import { type AgentRunner, createAgentRunner } from '../../src/core/agent-runner.ts';
import type { AuditEvent } from '../../src/core/audit-events.ts';
import type { ConversationRef } from '../../src/core/conversation.ts';
import { delegateTool, delegateToolName } from '../../src/core/delegation.ts';
import { DEFAULT_RUN_LIMITS, type RunLimits } from '../../src/core/limits.ts';
import { createPlanner } from '../../src/core/planner.ts';
import type { RunState, TurnResult } from '../../src/core/run-state.ts';
import type { Tool } from '../../src/core/tools/define-tool.ts';
import { createToolExecutor, type ToolExecutorOptions } from '../../src/core/tools/tool-executor.ts';
import { createToolRegistry } from '../../src/core/tools/tool-registry.ts';
import { createOpenAIModelClient, type OpenAIModelClientOptions } from '../../src/llm/openai-model-client.ts';
import { createMemoryNotes } from '../fakes/memory-notes.ts';
import {
  type ScriptedOpenAI,
  type ScriptStep,
  startScriptedOpenAI,
} from '../fakes/scripted-openai-server.ts';

export const TEST_CONVERSATION: ConversationRef = {
  platform: 'slack',
  tenantId: 'T1',
  channelId: 'C1',
  threadId: '1700000000.000100',
};

export interface HarnessOptions {
  readonly tools: readonly Tool[];
  readonly script?: readonly ScriptStep[];
  readonly limits?: Partial<RunLimits>;
  readonly model?: Partial<Omit<OpenAIModelClientOptions, 'apiKey' | 'baseURL'>>;
  readonly executor?: ToolExecutorOptions;
  readonly agentTools?: readonly string[];
  /** Overrides for the main agent, `support` (delegates, planner, outputChecks…). */
  readonly agent?: Partial<AgentProfile>;
  /** More agents, which `support` (or each other) may delegate to. */
  readonly otherAgents?: readonly AgentProfile[];
}

export interface Harness {
  readonly server: ScriptedOpenAI;
  readonly runner: AgentRunner;
  readonly events: AuditEvent[];
  /** Every checkpoint the run saved, in order. */
  readonly checkpoints: RunState[];
  start(text: string): Promise<TurnResult>;
  eventsOf<T extends AuditEvent['type']>(type: T): Extract<AuditEvent, { type: T }>[];
}

const open: ScriptedOpenAI[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((server) => server.close()));
});

/** The real runner and the real openai SDK, talking over loopback to a scripted model. */
export async function createHarness(options: HarnessOptions): Promise<Harness> {
  const server = await startScriptedOpenAI({ script: [...(options.script ?? [])] });
  open.push(server);
  const events: AuditEvent[] = [];
  const checkpoints: RunState[] = [];
  const base: AgentProfile = {
    name: 'support',
    model: 'gpt-test',
    instructions: 'You help the team with orders.',
    tools: options.agentTools ?? options.tools.map((tool) => tool.name),
    limits: { ...DEFAULT_RUN_LIMITS, ...options.limits },
    ...options.agent,
  };
  const all = [base, ...(options.otherAgents ?? [])].map((profile) => ({
    ...profile,
    tools: [...profile.tools, ...(profile.delegates ?? []).map((d) => delegateToolName(d.agent))],
  }));
  const agents = new Map(all.map((profile) => [profile.name, profile]));
  const targets = new Set(all.flatMap((profile) => (profile.delegates ?? []).map((d) => d.agent)));
  const delegateTools = [...targets].flatMap((name) => {
    const target = agents.get(name);
    return target ? [delegateTool(target)] : [];
  });
  const model = createOpenAIModelClient({
    apiKey: 'sk-test-harness',
    baseURL: server.baseURL,
    initialDelayMs: 5,
    maxDelayMs: 20,
    ...options.model,
  });
  const runner = createAgentRunner({
    model,
    planner: createPlanner({ model }),
    registry: createToolRegistry([...options.tools, ...delegateTools]),
    executor: createToolExecutor(options.executor),
    audit: { record: (event) => events.push(event) },
    logger: pino({ level: 'silent' }),
    agents,
    approvalTtlMs: 60_000,
    notes: createMemoryNotes(),
    checkpoints: { saveCheckpoint: async (state) => void checkpoints.push(structuredClone(state)) },
  });
  return {
    server,
    runner,
    events,
    checkpoints,
    start: (text) =>
      runner.start({ agent: 'support', text, requestedBy: 'U_ASKER', conversation: TEST_CONVERSATION }),
    eventsOf: <T extends AuditEvent['type']>(type: T) =>
      events.filter((event): event is Extract<AuditEvent, { type: T }> => event.type === type),
  };
}
