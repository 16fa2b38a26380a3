import { pino } from 'pino';
import { z } from 'zod';
import { ToolExecutionError } from '../../src/core/errors.ts';
import {
  defineTool,
  type Tool,
  type ToolContext,
  type ToolDefinition,
} from '../../src/core/tools/define-tool.ts';
import { success, type ToolResult } from '../../src/core/tools/tool-result.ts';
import { createMemoryNotes } from '../fakes/memory-notes.ts';
import { TEST_CONVERSATION } from './agent-harness.ts';

export interface RecordingTool {
  readonly tool: Tool;
  /** Inputs the tool actually ran with, in order. */
  readonly calls: unknown[];
}

type Overrides = Partial<Omit<ToolDefinition<{ order_id: string }>, 'execute' | 'input'>>;

/** A get_order-shaped tool whose behaviour the test chooses, recording every execution. */
export function recordingTool(
  name: string,
  behaviour: (input: { order_id: string }, ctx: ToolContext, attempt: number) => Promise<ToolResult> = async (
    input,
  ) => success({ order_id: input.order_id, status: 'shipped' }),
  overrides: Overrides = {},
): RecordingTool {
  const calls: unknown[] = [];
  const tool = defineTool({
    name,
    description: `Test tool ${name}.`,
    whenToUse: 'In tests.',
    whenNotToUse: 'Never in production.',
    input: z.object({ order_id: z.string().regex(/^\d+$/, 'must be digits') }),
    category: 'lookup',
    risk: 'read',
    idempotent: true,
    retry: { initialDelayMs: 1, maxDelayMs: 5 },
    ...overrides,
    execute: async (input, ctx) => {
      calls.push(input);
      return behaviour(input, ctx, calls.length);
    },
  });
  return { tool, calls };
}

export function failingWith(message: string, retryable: boolean) {
  return async (): Promise<ToolResult> => {
    throw new ToolExecutionError(message, { retryable });
  };
}

/** What the runner hands a tool, for tests that drive the executor directly. */
export function testToolContext(signal: AbortSignal = new AbortController().signal): ToolContext {
  return {
    signal,
    runId: 'run-1',
    traceId: 'trace-1',
    agent: 'support',
    requestedBy: 'U1',
    conversation: TEST_CONVERSATION,
    logger: pino({ level: 'silent' }),
    idempotencyKey: 'run-1:call_1',
    notes: createMemoryNotes(),
  };
}
