import type { AgentRunner } from './agent-runner.ts';
import type { AuditEventBody } from './audit-events.ts';
import type { Breakers } from './budget/breakers.ts';
import type { ConversationRef } from './conversation.ts';
import { ApprovalNotFoundError, IllegalTransitionError, StateUnavailableError } from './errors.ts';
import type { Clock, Logger } from './ports.ts';
import { newRunState, type RunOutcome, type RunState, type TurnResult } from './run-state.ts';
import type { ApprovalStore, ChannelSettingsStore, RunRecord, RunStore, SessionStore } from './stores.ts';
import { progressText, type Surface } from './surface.ts';
import type { RunQueue, WorkContext, WorkHandler, WorkItem } from './work.ts';

export interface RunProcessorOptions {
  readonly runner: AgentRunner;
  readonly runs: RunStore;
  readonly approvals: ApprovalStore;
  readonly sessions: SessionStore;
  readonly channels: ChannelSettingsStore;
  readonly queue: RunQueue;
  readonly surface: Surface;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Who an escalation pings, per platform (the config's escalation.notify). */
  readonly escalationMentions: (platform: string) => readonly string[];
  /** Counts run endings for the error-rate alert. */
  readonly breakers?: Breakers;
}

/**
 * Drives runs for the workers: one work item (start, resume after a decision, expiry of an
 * approval) at a time per conversation. Every step starts from the run's durable record (read, or
 * returned by the checked move a start makes), so an item delivered twice, or handed over after a
 * crash, does the right thing once.
 */
export function createRunProcessor(options: RunProcessorOptions): WorkHandler {
  const { runner, runs, approvals, surface, logger, clock } = options;

  const finish = async (record: RunRecord, result: TurnResult, work?: ItemWork): Promise<void> => {
    const { outcome, state } = result;
    if (work?.signal.aborted) {
      // The worker is shutting down or lost its lease: the run is not over, it moves to another
      // worker, which continues it from the last checkpoint.
      logger.info({ runId: record.runId }, 'run interrupted; left for another worker to continue');
      return;
    }
    const target = record.conversation;
    switch (outcome.status) {
      case 'awaiting_approval': {
        const { approval } = outcome;
        await runs.saveCheckpoint(state);
        await approvals.create(approval);
        await runs.transition(record.runId, 'awaiting_approval', { conversation: record.conversation });
        await surface.requestApproval(target, approval);
        await options.queue.enqueue(
          {
            kind: 'expire',
            itemId: `expire:${approval.approvalId}`,
            runId: record.runId,
            conversationKey: record.conversationKey,
            approvalId: approval.approvalId,
          },
          { delayMs: Math.max(0, approval.expiresAt - clock.now()) },
        );
        return;
      }
      case 'completed':
        // Posted before the status moves: a crash in between repeats the answer rather than losing it.
        await surface.postAnswer(target, answerText(outcome.text));
        break;
      case 'escalated':
        await surface.postEscalation(target, {
          runId: record.runId,
          reason: outcome.reason,
          summary: outcome.summary,
          mentions: options.escalationMentions(target.platform),
        });
        break;
      case 'failed':
        await surface.postNotice(target, `I could not finish this: ${outcome.reason}`);
        break;
      case 'cancelled':
        await surface.postNotice(target, `This run stopped: ${outcome.reason}.`);
        break;
    }
    // The ending in one round trip. The session keeps the question and the answer (the tool trace
    // stays in the audit trail); the lane lets a later message in only after this item, so the next
    // turn reads it. Counting an ending twice (a duplicate delivery) is harmless: it is keyed by run.
    const appended =
      outcome.status === 'completed'
        ? options.sessions.append(
            record.conversationKey,
            [
              { role: 'user', content: record.text },
              { role: 'assistant', content: answerText(outcome.text) },
            ],
            { conversation: record.conversation, userId: record.requestedBy },
          )
        : undefined;
    const counted = options.breakers?.runEnded(record.runId, outcome.status).catch((error: unknown) => {
      logger.warn({ err: error, runId: record.runId }, 'could not count the run for the error-rate alert');
    });
    const moved = runs.transition(record.runId, outcome.status, {
      outcome,
      conversation: record.conversation,
    });
    const ending = Promise.all([appended, moved, counted]);
    if (work?.settleLast) work.settleLast(ending);
    else await ending;
  };

  /** Tells the thread what the run is doing as its tools start. */
  const progressFor = (record: RunRecord) => {
    const proposed = new Map<string, unknown>();
    return (event: AuditEventBody) => {
      if (event.type === 'tool.proposed') proposed.set(event.callId, event.args);
      if (event.type !== 'tool.started' || !surface.showProgress) return;
      surface
        .showProgress(record.conversation, progressText(event.tool, proposed.get(event.callId)))
        .catch((error: unknown) => {
          logger.warn({ err: error, runId: record.runId }, 'could not show progress');
        });
    };
  };

  const allowlistOf = async (conversation: ConversationRef) =>
    (await options.channels.get(conversation)).toolAllowlist ?? undefined;
  const allowlistFor = (record: RunRecord) => allowlistOf(record.conversation);

  const start = async (record: RunRecord, work: ItemWork): Promise<void> => {
    // One round trip: the move to running and the reads the run starts from.
    const [, history, channelAllowlist] = await Promise.all([
      record.status === 'queued'
        ? runs.transition(record.runId, 'running', { conversation: record.conversation })
        : undefined,
      options.sessions.load(record.conversationKey),
      allowlistFor(record),
    ]);
    await run(record, history, channelAllowlist, work);
  };

  const run = async (
    record: RunRecord,
    history: Awaited<ReturnType<SessionStore['load']>>,
    channelAllowlist: readonly string[] | undefined,
    work: ItemWork,
  ): Promise<void> => {
    const result = await runner.start({
      runId: record.runId,
      agent: record.agent,
      text: record.text,
      requestedBy: record.requestedBy,
      conversation: record.conversation,
      history,
      channelAllowlist,
      signal: work.signal,
      limitsScale: record.limitsScale,
      onEvent: progressFor(record),
    });
    await finish(record, result, work);
  };

  /** A run found `running` belongs to a worker that died: continue from where it left off. */
  const recover = async (record: RunRecord, item: WorkItem, work: ItemWork): Promise<void> => {
    const { signal } = work;
    const checkpoint = await runs.loadCheckpoint(record.runId);
    if (!checkpoint) {
      // No checkpoint means nothing was done beyond asking the model: starting over is safe.
      if (item.kind === 'start') return start(record, work);
      return end(record, { status: 'failed', reason: 'the run was lost before its first checkpoint' }, work);
    }
    const channelAllowlist = await allowlistFor(record);
    if (item.kind === 'resume' && checkpoint.pendingApproval?.approvalId === item.decision.approvalId) {
      const result = await runner.resume(checkpoint, {
        decision: item.decision,
        channelAllowlist,
        signal,
        onEvent: progressFor(record),
      });
      return finish(record, result, work);
    }
    logger.warn({ runId: record.runId }, 'continuing a run whose worker stopped');
    const result = await runner.continue(checkpoint, {
      channelAllowlist,
      signal,
      onEvent: progressFor(record),
    });
    return finish(record, result, work);
  };

  const end = async (record: RunRecord, outcome: RunOutcome, work?: ItemWork): Promise<void> => {
    const state = (await runs.loadCheckpoint(record.runId)) ?? emptyState(record);
    await finish(record, { outcome, state }, work);
  };

  const resume = async (record: RunRecord, item: WorkItem & { kind: 'resume' }, work: ItemWork) => {
    const checkpoint = await runs.loadCheckpoint(record.runId);
    if (!checkpoint)
      return end(record, { status: 'failed', reason: 'the run’s checkpoint is missing' }, work);
    await runs.transition(record.runId, 'running', { conversation: record.conversation });
    try {
      const result = await runner.resume(checkpoint, {
        decision: item.decision,
        channelAllowlist: await allowlistFor(record),
        signal: work.signal,
        onEvent: progressFor(record),
      });
      await finish(record, result, work);
    } catch (error) {
      if (!(error instanceof ApprovalNotFoundError)) throw error;
      const outcome = { status: 'cancelled', reason: error.message } as const;
      await finish(record, { outcome, state: checkpoint }, work);
    }
  };

  const expire = async (record: RunRecord, item: WorkItem & { kind: 'expire' }, work: ItemWork) => {
    const stored = await approvals.get(item.approvalId);
    // Decided in time: the resume item does the rest.
    if (!stored || stored.decided) return;
    const { approval } = stored;
    await surface.showApprovalDecided?.(approval.conversation, approval, {
      decision: 'expired',
      by: null,
      at: clock.now(),
    });
    await end(record, { status: 'cancelled', reason: `the approval for ${approval.toolName} expired` }, work);
  };

  /**
   * A start item that names its conversation moves its run to running and reads what the run starts
   * from in one round trip, without reading the record first (the move returns it). Undefined when
   * the run is not queued (a duplicate delivery, a run already moved): the caller reads and decides.
   */
  const startQueued = async (
    item: WorkItem,
    conversation: ConversationRef,
    work: ItemWork,
  ): Promise<boolean> => {
    const moving = runs.transition(item.runId, 'running', { conversation });
    const history = options.sessions.load(item.conversationKey);
    const channelAllowlist = allowlistOf(conversation);
    let record: RunRecord;
    try {
      record = await moving;
    } catch (error) {
      history.catch(() => undefined);
      channelAllowlist.catch(() => undefined);
      if (error instanceof IllegalTransitionError) return false;
      throw error;
    }
    await guarded(record, async () => run(record, await history, await channelAllowlist, work));
    return true;
  };

  return async (item, work) => {
    const { recovering } = work;
    if (item.kind === 'start' && item.conversation !== undefined && !recovering) {
      if (await startQueued(item, item.conversation, work)) return;
    }
    const record = await runs.get(item.runId);
    if (!record) {
      logger.warn({ runId: item.runId, kind: item.kind }, 'work item for an unknown run; dropped');
      return;
    }
    await guarded(record, async () => {
      if (record.status === 'running') return await recover(record, item, work);
      if (item.kind === 'start' && record.status === 'queued') return await start(record, work);
      if (item.kind === 'resume' && record.status === 'awaiting_approval')
        return await resume(record, item, work);
      if (item.kind === 'expire' && record.status === 'awaiting_approval')
        return await expire(record, item, work);
      logger.debug(
        { runId: record.runId, kind: item.kind, status: record.status, recovering },
        'nothing to do',
      );
    });
  };

  /** Runs `work` for `record`; whatever goes wrong, the run ends told and recorded, never stuck. */
  async function guarded(record: RunRecord, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      // Another process moved the run first (a duplicate delivery): that process owns it now.
      if (error instanceof IllegalTransitionError) {
        logger.warn({ runId: record.runId, from: error.from, to: error.to }, 'run moved by another worker');
        return;
      }
      // Redis is away: leave the run as checkpointed; the queue hands the item over again later.
      if (error instanceof StateUnavailableError) throw error;
      logger.error({ err: error, runId: record.runId }, 'run failed on an unexpected error');
      const reason = `an internal error stopped it (${error instanceof Error ? error.message : String(error)})`;
      const outcome = { status: 'failed', reason } as const;
      try {
        await end(await current(record), outcome);
      } catch (notified) {
        // The platform cannot be told either (it may be what failed): the run still must not stay
        // `running` with no worker, so its end is recorded without a message.
        logger.error({ err: notified, runId: record.runId }, 'could not report a failed run');
        await runs.transition(record.runId, 'failed', { outcome }).catch((transition: unknown) => {
          if (!(transition instanceof IllegalTransitionError)) throw transition;
        });
      }
    }
  }

  /** The record as it is now, for ending a run whose status moved during the failed attempt. */
  async function current(record: RunRecord): Promise<RunRecord> {
    return (await runs.get(record.runId)) ?? record;
  }
}

/** What finish needs of the item being handled: its abort signal and where its ending goes. */
type ItemWork = Pick<WorkContext, 'signal' | 'settleLast'>;

/** Posted and kept in the session alike; a blank answer still shows that the run ended. */
function answerText(text: string): string {
  return text.trim() === '' ? '(no answer)' : text;
}

/** The state to record an ending with when a run never reached its first checkpoint. */
function emptyState(record: RunRecord): RunState {
  return newRunState({
    runId: record.runId,
    traceId: record.runId,
    agent: record.agent,
    requestedBy: record.requestedBy,
    conversation: record.conversation,
    startedAt: record.createdAt,
    deadlineAt: record.createdAt,
    messages: [],
  });
}
