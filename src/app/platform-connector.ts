import type { Logger } from '../core/ports.ts';
import type { Surface } from '../core/surface.ts';
import type { Steward, SurfaceDeps } from './compose.ts';

/**
 * What the runtime needs from a chat platform (Slack, Discord): connect and learn who the bot is,
 * give the core a Surface, take the core's service and command router, serve, and stop.
 */
export interface PlatformConnector {
  readonly platform: string;
  /** Connects far enough to know the bot's identity; fails fast with a clear error. */
  prepare(): Promise<void>;
  surface(deps: SurfaceDeps): Surface;
  attach(steward: Steward): void;
  start(): Promise<void>;
  /** For a process that only runs runs: be able to post, without taking the platform's events. */
  startSending(): Promise<void>;
  stop(): Promise<void>;
}

export interface ConnectorContext {
  readonly logger: Logger;
  /** Redis answers (for readiness probes); false until the core is up. */
  readonly isReady: () => Promise<boolean>;
}
