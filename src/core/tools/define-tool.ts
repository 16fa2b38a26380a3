import type { z } from 'zod';
import type { ConversationRef } from '../conversation.ts';
import { DEFAULT_TOOL_RETRY, DEFAULT_TOOL_TIMEOUT_MS, type ToolRetryPolicy } from '../limits.ts';
import type { Logger } from '../ports.ts';
import type { NotesStore } from '../stores.ts';
import type { ToolResult } from './tool-result.ts';

export type ToolCategory = 'lookup' | 'search' | 'mutation' | 'escalation' | 'delegation';
export type ToolRisk = 'read' | 'write' | 'destructive';
export type ApprovalMode = 'required' | 'never';

/** What a tool receives besides its input: everything it may touch comes through here. */
export interface ToolContext {
  readonly signal: AbortSignal;
  readonly runId: string;
  readonly traceId: string;
  readonly agent: string;
  readonly requestedBy: string;
  readonly conversation: ConversationRef;
  readonly logger: Logger;
  /** Stable for this call across retries and recovery, so a repeated request can be recognized. */
  readonly idempotencyKey: string;
  /** The channel's notes (the remember / recall tools). */
  readonly notes: NotesStore;
}

export interface ToolDefinition<Input> {
  readonly name: string;
  readonly description: string;
  readonly whenToUse: string;
  readonly whenNotToUse: string;
  readonly input: z.ZodType<Input>;
  readonly category: ToolCategory;
  readonly risk: ToolRisk;
  /** Default: `never` for read tools, `required` otherwise. Destructive tools always need approval. */
  readonly approval?: ApprovalMode;
  /** Safe to run twice with the same input. Only such tools (and read tools) are retried. */
  readonly idempotent: boolean;
  readonly timeoutMs?: number;
  readonly retry?: Partial<ToolRetryPolicy>;
  /** Output comes from outside (the web, a third-party API) and may carry injected instructions. */
  readonly untrustedOutput?: boolean;
  execute(input: Input, ctx: ToolContext): Promise<ToolResult>;
}

/** A tool with its defaults applied and its input type erased, as the registry keeps it. */
export interface Tool {
  readonly name: string;
  readonly description: string;
  readonly whenToUse: string;
  readonly whenNotToUse: string;
  readonly input: z.ZodType;
  readonly category: ToolCategory;
  readonly risk: ToolRisk;
  readonly approval: ApprovalMode;
  readonly idempotent: boolean;
  readonly timeoutMs: number;
  readonly retry: ToolRetryPolicy;
  readonly untrustedOutput: boolean;
  /** Runs the tool on input that has already passed `input`; it is parsed again to keep the types honest. */
  execute(input: unknown, ctx: ToolContext): Promise<ToolResult>;
}

const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

export function defineTool<Input>(definition: ToolDefinition<Input>): Tool {
  if (!TOOL_NAME.test(definition.name)) {
    throw new TypeError(`tool name "${definition.name}" must match ${TOOL_NAME} (the model API's rule)`);
  }
  const schema = definition.input;
  return {
    name: definition.name,
    description: definition.description,
    whenToUse: definition.whenToUse,
    whenNotToUse: definition.whenNotToUse,
    input: schema,
    category: definition.category,
    risk: definition.risk,
    approval: definition.approval ?? (definition.risk === 'read' ? 'never' : 'required'),
    idempotent: definition.idempotent,
    timeoutMs: definition.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS,
    retry: { ...DEFAULT_TOOL_RETRY, ...definition.retry },
    untrustedOutput: definition.untrustedOutput ?? false,
    execute: (input, ctx) => definition.execute(schema.parse(input), ctx),
  };
}
