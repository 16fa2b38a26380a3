import type { Logger } from '../core/ports.ts';
import { createRedactor } from '../core/redaction.ts';
import { createRoutingSurface } from '../core/routing-surface.ts';
import type { Surface } from '../core/surface.ts';
import { createSteward, type Steward, type StewardOptions, stewardSecrets } from './compose.ts';
import { createLogger } from './logger.ts';
import type { ConnectorContext, PlatformConnector } from './platform-connector.ts';

export type RuntimeOptions = Omit<StewardOptions, 'surface' | 'logger'> & {
  readonly logger?: Logger;
  readonly connectors: (context: ConnectorContext) => PlatformConnector[];
};

export interface Runtime {
  readonly steward: Steward;
  readonly connectors: readonly PlatformConnector[];
  close(): Promise<void>;
}

/**
 * Steward on its platforms: each connector prepares (learns the bot's identity), the core is
 * built once with a surface that routes by platform, the connectors attach their listeners to the
 * core's service and command router, and then start taking events. STEWARD_ROLE splits this: an
 * `ingress` process takes events and queues runs without a worker; a `worker` process runs them
 * and posts, without listening.
 */
export async function startRuntime(options: RuntimeOptions): Promise<Runtime> {
  const { env, config } = options;
  const logger =
    options.logger ??
    createLogger({
      level: options.logLevel ?? env.logLevel,
      redact: createRedactor(stewardSecrets(env, config)),
      ...(options.logDestination ? { destination: options.logDestination } : {}),
    });
  let steward: Steward | undefined;
  const connectors = options.connectors({
    logger,
    isReady: async () => (steward ? steward.isReady() : false),
  });
  for (const connector of connectors) await connector.prepare();
  const role = env.role;
  const built = await createSteward({
    ...options,
    // A process that only takes events in holds no worker; its runs are driven elsewhere.
    ...(role === 'ingress' ? { worker: false as const } : {}),
    logger,
    surface: (deps) =>
      createRoutingSurface(
        new Map<string, Surface>(
          connectors.map((connector) => [connector.platform, connector.surface(deps)]),
        ),
      ),
  });
  steward = built;
  if (role === 'worker') {
    for (const connector of connectors) await connector.startSending();
  } else {
    for (const connector of connectors) connector.attach(built);
    for (const connector of connectors) await connector.start();
  }
  logger.info({ platforms: connectors.map((c) => c.platform), role }, 'Steward is connected');
  return {
    steward: built,
    connectors,
    async close() {
      for (const connector of connectors) await connector.stop();
      await built.close();
    },
  };
}
