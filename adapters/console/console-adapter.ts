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

/** What ends the wait after a message or a decision: the run has said something the person must see. */
type Delivery = { readonly kind: 'said' } | { readonly kind: 'approval'; readonly approval: PendingApproval };

/**
 * A terminal conversation with the default agent, on the same Surface port that the Slack and
 * Discord adapters implement. Runs go through the durable queue like everywhere else, so an
 * approval left pending when the process stops is asked again when it starts.
 */
export function createConsoleAdapter(options: ConsoleAdapterOptions): ConsoleAdapter {
  const { output, userId } = options;
  const print = (line: string): void => {
    output.write(`${line}\n`);
  };
  const deliveries: Delivery[] = [];
  let wake: (() => void) | undefined;
  const deliver = (delivery: Delivery) => {
    deliveries.push(delivery);
    wake?.();
  };
  const nextDelivery = async (): Promise<Delivery> => {
    for (;;) {
      const next = deliveries.shift();
      if (next) return next;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  };
  const proposed = new Map<string, string>();

  const surface: Surface = {
    postAnswer: async (_target, text) => {
      print(`steward> ${text}`);
      deliver({ kind: 'said' });
    },
    postNotice: async (_target, text) => {
      print(`steward (notice)> ${text}`);
      deliver({ kind: 'said' });
    },
    requestApproval: async (_target, approval) => deliver({ kind: 'approval', approval }),
    postEscalation: async (_target, escalation) => {
      print(`steward (escalated)> ${escalation.reason}`);
      if (escalation.summary) print(`  summary: ${escalation.summary}`);
      print(`  run: ${escalation.runId}`);
      deliver({ kind: 'said' });
    },
    showApprovalDecided: async (_target, approval, outcome) =>
      print(
        `  ${approval.toolName}: ${outcome.decision === 'approve' ? 'approved' : outcome.decision === 'reject' ? 'rejected' : 'expired'}${outcome.by ? ` by ${outcome.by}` : ''}`,
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
      /** Asks y/n for an approval; false when the input ended. A refusal arrives as a notice. */
      const decide = async (approval: PendingApproval): Promise<boolean> => {
        print(`steward (approval needed)> ${approval.toolName} ${JSON.stringify(approval.displayArgs)}`);
        print(`  why: ${approval.reason} · risk: ${approval.risk}`);
        const answer = await ask('  approve? [y/N] ');
        if (answer === undefined) return false;
        await service.handleAction({
          ...CONSOLE_CONVERSATION,
          kind: 'approval',
          userId,
          approvalId: approval.approvalId,
          decision: answer.trim().toLowerCase().startsWith('y') ? 'approve' : 'reject',
          eventId: randomUUID(),
        });
        return true;
      };
      /** Follows a run until it says something final, answering its approval requests on the way. */
      const follow = async (): Promise<boolean> => {
        for (;;) {
          const delivery = await nextDelivery();
          if (delivery.kind === 'said') return true;
          if (!(await decide(delivery.approval))) return false;
        }
      };

      print('Steward console. Type a message, or /exit to leave.');
      for (const approval of await service.pendingApprovals(CONSOLE_CONVERSATION)) {
        print('(an approval was still waiting from before)');
        if (!(await decide(approval)) || !(await follow())) return void print('bye');
      }
      for (;;) {
        const text = await ask('you> ');
        if (text === undefined || text.trim() === '/exit') break;
        if (text.trim() === '') continue;
        const handled = await service.handleMessage({
          ...CONSOLE_CONVERSATION,
          userId,
          text,
          isDirect: true,
          eventId: randomUUID(),
        });
        if (handled.status === 'queued' && !(await follow())) break;
        // A refusal was already printed as a notice; drop its delivery so it does not end the next wait.
        if (handled.status === 'refused') deliveries.length = 0;
      }
      print('bye');
    },
  };
}
