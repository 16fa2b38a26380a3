import { userInfo } from 'node:os';
import { pino } from 'pino';
import { createConsoleAdapter } from '../../adapters/console/console-adapter.ts';
import { createSteward } from './compose.ts';
import { readProcessEnv } from './env.ts';
import { closeOnSignals } from './shutdown.ts';
import { describeStartupError, loadSettings } from './startup.ts';

// `npm run chat`: a terminal conversation with the default agent, through the same durable queue
// as every platform. Logs go to stderr, warnings and up unless LOG_LEVEL asks for debug or trace.
const source = readProcessEnv();
try {
  const settings = loadSettings(source);
  const adapter = createConsoleAdapter({
    input: process.stdin,
    output: process.stdout,
    userId: userInfo().username,
  });
  const verbose = settings.env.logLevel === 'debug' || settings.env.logLevel === 'trace';
  const steward = await createSteward({
    // Its own keys and queue: a console sharing Redis with a deployment must never pick up (and
    // print) another platform's runs, nor have its runs taken by a worker that cannot show them.
    env: { ...settings.env, redisPrefix: `${settings.env.redisPrefix}console:` },
    config: settings.config,
    surface: adapter.surface,
    auditSinks: [adapter.activity],
    logDestination: pino.destination(2),
    logLevel: verbose ? settings.env.logLevel : 'warn',
  });
  if (settings.usingBuiltInConfig) {
    process.stdout.write(
      `(no ${settings.env.configPath}: using the built-in assistant; see steward.example.yaml)\n`,
    );
  }
  closeOnSignals(() => steward.close());
  await adapter.run(steward.service);
  await steward.close();
} catch (error) {
  process.stderr.write(describeStartupError(error, source.REDIS_URL));
  process.exitCode = 1;
}
