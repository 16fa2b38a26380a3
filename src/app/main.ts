import { createDiscordConnector } from './discord-connector.ts';
import { readProcessEnv } from './env.ts';
import type { PlatformConnector } from './platform-connector.ts';
import { startRuntime } from './runtime.ts';
import { closeOnSignals } from './shutdown.ts';
import { createSlackConnector } from './slack-connector.ts';
import { describeStartupError, loadSettings, NO_PLATFORM_MESSAGE } from './startup.ts';

// `npm start`: connects whichever platforms are configured. Kept thin: everything it calls is tested.
const source = readProcessEnv();
try {
  const { env, config } = loadSettings(source);
  if (!env.slack && !env.discord) {
    process.stdout.write(NO_PLATFORM_MESSAGE);
  } else {
    const runtime = await startRuntime({
      env,
      config,
      connectors: (context) => {
        const connectors: PlatformConnector[] = [];
        if (env.slack) connectors.push(createSlackConnector(env.slack, config, env.port, context));
        if (env.discord) connectors.push(createDiscordConnector(env.discord, config, context));
        return connectors;
      },
    });
    closeOnSignals(() => runtime.close());
  }
} catch (error) {
  process.stderr.write(describeStartupError(error, source.REDIS_URL));
  process.exitCode = 1;
}
