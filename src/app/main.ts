import { readProcessEnv } from './env.ts';
import { configuredPlatforms, describeStartupError, loadSettings, NO_PLATFORM_MESSAGE } from './startup.ts';

// `npm start`: connects whichever platforms are configured. Kept thin: everything it calls is tested.
try {
  const settings = loadSettings(readProcessEnv());
  if (configuredPlatforms(settings.env).length === 0) {
    process.stdout.write(NO_PLATFORM_MESSAGE);
  }
} catch (error) {
  process.stderr.write(describeStartupError(error));
  process.exitCode = 1;
}
