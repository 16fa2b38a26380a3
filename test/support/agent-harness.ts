import { pino } from 'pino';
import { afterEach } from 'vitest';
import type { AgentProfile } from '../../src/core/agent-profile.ts';
import { type AgentRunner, createAgentRunner } from '../../src/core/agent-runner.ts';
import type { AuditEvent } from '../../src/core/audit-events.ts';
import type { ConversationRef } from '../../src/core/conversation.ts';
import { DEFAULT_RUN_LIMITS, type RunLimits } from '../../src/core/limits.ts';
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
  const agent: AgentProfile = {
    name: 'support',
    model: 'gpt-test',
    instructions: 'You help the team with orders.',
    tools: options.agentTools ?? options.tools.map((tool) => tool.name),
    limits: { ...DEFAULT_RUN_LIMITS, ...options.limits },
  };
  const runner = createAgentRunner({
    model: createOpenAIModelClient({
      apiKey: 'sk-test-harness',
      baseURL: server.baseURL,
      initialDelayMs: 5,
      maxDelayMs: 20,
      ...options.model,
    }),
    registry: createToolRegistry(options.tools),
    executor: createToolExecutor(options.executor),
    audit: { record: (event) => events.push(event) },
    logger: pino({ level: 'silent' }),
    agents: new Map([[agent.name, agent]]),
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
