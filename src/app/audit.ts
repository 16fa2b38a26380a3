import { runAuditCommand } from './audit-command.ts';
import { readProcessEnv } from './env.ts';
import { describeStartupError } from './startup.ts';

// `npm run audit -- <runId>`: kept thin; runAuditCommand holds the behaviour and is tested in-process.
try {
  process.exitCode = await runAuditCommand(process.argv.slice(2), {
    source: readProcessEnv(),
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  });
} catch (error) {
  // Only readProcessEnv throws here (an unreadable .env); runAuditCommand reports its own errors.
  process.stderr.write(describeStartupError(error));
  process.exitCode = 1;
}
