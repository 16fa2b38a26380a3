import type { ConversationRef } from '../conversation.ts';
import type { Clock, Logger } from '../ports.ts';
import type { Surface } from '../surface.ts';
import { globalPauseNotice } from './admission.ts';
import type { BreakerStore, ErrorRateSettings, GlobalPause } from './budget-store.ts';

export interface BreakersOptions {
  readonly store: BreakerStore;
  readonly surface: Surface;
  /** Where alerts go; without one they are only logged. */
  readonly opsChannel: ConversationRef | null;
  readonly errorRate: ErrorRateSettings;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** The system-wide breakers' reactions: counting run endings and telling the ops channel. */
export interface Breakers {
  /** Counts a finished run; posts the error-rate alert when this ending crosses the threshold. */
  runEnded(runId: string, status: string): Promise<void>;
  /** The cost-spike breaker paused new runs everywhere: tell the ops channel. */
  costSpiked(pause: GlobalPause): Promise<void>;
  /** Lines for `/steward status`. */
  status(): Promise<string[]>;
}

const percent = (part: number, whole: number): string => `${Math.round((part / Math.max(whole, 1)) * 100)}%`;
const minutes = (ms: number): string => `${Math.round(ms / 60_000)} minutes`;

export function createBreakers(options: BreakersOptions): Breakers {
  const { store, surface, opsChannel, errorRate, clock, logger } = options;

  const alert = async (text: string): Promise<void> => {
    logger.error({ alert: text }, 'breaker alert');
    if (!opsChannel) return;
    await surface.postNotice(opsChannel, text).catch((error: unknown) => {
      logger.error({ err: error }, 'could not post an alert to the ops channel');
    });
  };

  return {
    async runEnded(runId, status) {
      const rate = await store.recordRunEnd(runId, status, clock.now());
      if (!rate.alert) return;
      await alert(
        `:rotating_light: Alert: ${rate.bad} of the ${rate.total} runs that ended in the last ${minutes(rate.windowMs)} were escalated or failed (${percent(rate.bad, rate.total)}, over the ${percent(errorRate.threshold, 1)} threshold). Their audit trails say why: \`/steward audit <runId>\`.`,
      );
    },

    async costSpiked(pause) {
      await alert(
        `:rotating_light: ${globalPauseNotice(pause)} New runs are refused in every channel meanwhile.`,
      );
    },

    async status() {
      const now = clock.now();
      const [pause, rate, spend] = await Promise.all([
        store.globalPause(),
        store.errorRate(now),
        store.spend(now),
      ]);
      const baseline =
        spend.baselineUsd === null ? 'no baseline yet' : `usual $${spend.baselineUsd.toFixed(2)} an hour`;
      return [
        pause
          ? `Everywhere: PAUSED since ${new Date(pause.at).toISOString().slice(0, 16).replace('T', ' ')} UTC (${pause.by === 'cost_spike' ? pause.reason : `by ${pause.by}`}); \`/steward resume --global\` turns it back on`
          : 'Everywhere: running (no global pause)',
        `Error rate, last ${minutes(rate.windowMs)}: ${rate.bad} of ${rate.total} runs escalated or failed (${percent(rate.bad, rate.total)}; alert above ${percent(errorRate.threshold, 1)} once ${errorRate.minRuns} runs ended)`,
        `Spend, last hour: $${spend.lastHourUsd.toFixed(2)} (${baseline})`,
      ];
    },
  };
}
