import { readProcessEnv } from './env.ts';
import { startSlackRuntime } from './slack-runtime.ts';
import { describeStartupError, loadSettings, NO_PLATFORM_MESSAGE } from './startup.ts';

// `npm start`: connects whichever platforms are configured. Kept thin: everything it calls is tested.
const source = readProcessEnv();
try {
  const { env, config } = loadSettings(source);
  if (env.slack) {
    const runtime = await startSlackRuntime({ env: { ...env, slack: env.slack }, config });
    const stop = () => {
      void runtime.close().then(() => process.exit(0));
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  } else {
    process.stdout.write(NO_PLATFORM_MESSAGE);
  }
} catch (error) {
  process.stderr.write(describeStartupError(error, source.REDIS_URL));
  process.exitCode = 1;
}
