import { runCompile } from '../lib/cli/compile.js';
import { runGraph } from '../lib/cli/graph.js';
import { type CommandIo, processIo } from '../lib/cli/io.js';
import { runPlan } from '../lib/cli/plan.js';
import { runRun } from '../lib/cli/run.js';
import { CliIoError, USAGE, UsageError } from '../lib/cli/usage.js';
import { runValidate } from '../lib/cli/validate.js';

// The AWS SDK warns on Node 20 that future releases need Node 22; the CLI works on both, so that one
// notice is kept off the user's screen. Every other warning prints as usual.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name !== 'NodeVersionSupportWarning')
    process.stderr.write(`${warning.name}: ${warning.message}\n`);
});

type Command = (args: string[], io: CommandIo) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  validate: runValidate,
  compile: runCompile,
  plan: runPlan,
  graph: runGraph,
  run: runRun,
};

/** The `dag` CLI. Returns the exit code: 0 success, 1 invalid workflow or failed task, 2 usage or I/O. */
export async function main(argv: string[], io: CommandIo = processIo): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(USAGE);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr(`dag: unknown command '${name}'\n\n${USAGE}`);
    return 2;
  }
  try {
    return await command(args, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`dag ${name}: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    if (error instanceof CliIoError) {
      io.stderr(`dag ${name}: ${error.message}`);
      return 2;
    }
    io.stderr(`dag ${name}: internal error: ${(error as Error).stack ?? String(error)}`);
    return 2;
  }
}
