import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { AuditEvent } from '../../src/core/audit-events.ts';
import type { ConversationRef } from '../../src/core/conversation.ts';
import type { ConversationService, Surface } from '../../src/core/conversation-service.ts';
import type { AuditSink } from '../../src/core/ports.ts';
import type { PendingApproval } from '../../src/core/run-state.ts';

export interface ConsoleAdapterOptions {
  readonly input: Readable;
  readonly output: Writable;
  /** Who is typing; shown in the audit trail as the requester and approver. */
  readonly userId: string;
}

export interface ConsoleAdapter {
  readonly surface: Surface;
  /** Shows each tool call with its arguments and the policy's verdict as the run goes. */
  readonly activity: AuditSink;
  /** Reads lines until the input ends or the person types /exit. */
  run(service: ConversationService): Promise<void>;
}

export const CONSOLE_CONVERSATION: ConversationRef = Object.freeze({
  platform: 'console',
  tenantId: 'local',
  channelId: 'terminal',
  threadId: null,
});

/**
 * A terminal conversation with the default agent, on the same Surface port that the Slack and
 * Discord adapters implement. Approvals are asked as y/n questions.
 */
export function createConsoleAdapter(options: ConsoleAdapterOptions): ConsoleAdapter {
  const { output, userId } = options;
  const print = (line: string): void => {
    output.write(`${line}\n`);
  };
  const pending: PendingApproval[] = [];
  const proposed = new Map<string, string>();

  const surface: Surface = {
    postAnswer: async (_target, text) => print(`steward> ${text}`),
    postNotice: async (_target, text) => print(`steward (notice)> ${text}`),
    requestApproval: async (_target, approval) => {
      pending.push(approval);
    },
    postEscalation: async (_target, escalation) => {
      print(`steward (escalated)> ${escalation.reason}`);
      if (escalation.summary) print(`  summary: ${escalation.summary}`);
      print(`  run: ${escalation.runId}`);
    },
    showApprovalDecided: async (_target, approval, outcome) =>
      print(
        `  ${approval.toolName}: ${outcome.decision === 'approve' ? 'approved' : 'rejected'} by ${outcome.by}`,
      ),
  };

  const activity: AuditSink = {
    record(event: AuditEvent) {
      if (event.type === 'tool.proposed') proposed.set(event.callId, JSON.stringify(event.args));
      if (event.type === 'policy.verdict') {
        print(`  → ${event.tool} ${proposed.get(event.callId) ?? ''} [${event.verdict}: ${event.reason}]`);
        proposed.delete(event.callId);
      }
      if (event.type === 'tool.arguments_rejected') print(`  ✗ ${event.tool}: ${event.reason}`);
      if (event.type === 'tool.finished') {
        const detail = event.error ? `: ${event.error}` : '';
        print(`  ← ${event.tool} ${event.status} in ${event.durationMs} ms${detail}`);
      }
      if (event.type === 'guard.tripped') print(`  ! ${event.reason}`);
    },
  };

  return {
    surface,
    activity,
    async run(service) {
      const lines = createInterface({ input: options.input, terminal: false })[Symbol.asyncIterator]();
      const ask = async (prompt: string): Promise<string | undefined> => {
        output.write(prompt);
        const next = await lines.next();
        return next.done ? undefined : next.value;
      };
      print('Steward console. Type a message, or /exit to leave.');
      for (;;) {
        const text = await ask('you> ');
        if (text === undefined || text.trim() === '/exit') break;
        if (text.trim() === '') continue;
        await service.handleMessage({
          ...CONSOLE_CONVERSATION,
          userId,
          text,
          isDirect: true,
          eventId: randomUUID(),
        });
        for (let approval = pending.shift(); approval; approval = pending.shift()) {
          print(`steward (approval needed)> ${approval.toolName} ${JSON.stringify(approval.displayArgs)}`);
          print(`  why: ${approval.reason} · risk: ${approval.risk}`);
          const answer = await ask('  approve? [y/N] ');
          const decision = answer?.trim().toLowerCase().startsWith('y') ? 'approve' : 'reject';
          await service.handleAction({
            ...CONSOLE_CONVERSATION,
            userId,
            approvalId: approval.approvalId,
            decision,
            eventId: randomUUID(),
          });
        }
      }
      print('bye');
    },
  };
}
