import '../lib/cli/node-warnings.js';
import { type CommandIo, processIo } from '../lib/cli/io.js';
import { CliIoError, USAGE, UsageError } from '../lib/cli/usage.js';

type Command = (args: string[], io: CommandIo) => Promise<number>;

// Loaded on use: `dag validate` need not load the engine, the AWS SDK and the web view.
const COMMANDS: Record<string, () => Promise<Command>> = {
  validate: async () => (await import('../lib/cli/validate.js')).runValidate,
  compile: async () => (await import('../lib/cli/compile.js')).runCompile,
  plan: async () => (await import('../lib/cli/plan.js')).runPlan,
  graph: async () => (await import('../lib/cli/graph.js')).runGraph,
  run: async () => (await import('../lib/cli/run.js')).runRun,
  serve: async () => (await import('../lib/cli/serve.js')).runServe,
};

/** The `dag` CLI. Returns the exit code: 0 success, 1 invalid workflow or failed task, 2 usage or I/O. */
export async function main(argv: string[], io: CommandIo = processIo): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(USAGE);
    return name === undefined ? 2 : 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    io.stderr(`dag: unknown command '${name}'\n\n${USAGE}`);
    return 2;
  }
  try {
    const command = await load();
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
