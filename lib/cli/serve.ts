import { existsSync, statSync } from 'node:fs';
import { DagServer, DataDirInUseError } from '../local/serve.js';
import type { CommandIo } from './io.js';
import { CliIoError, parseCommandLine, UsageError } from './usage.js';

/**
 * `dag serve [--port 8080] [--data DIR] [--operators DIR]`: the HTTP API of dag-spec §9 and the web view
 * on 127.0.0.1, until SIGINT or SIGTERM. Returns 0 after a clean stop, 2 on usage or I/O errors (a port
 * in use).
 */
export async function runServe(args: string[], io: CommandIo, stopSignal?: AbortSignal): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    port: { type: 'string' },
    data: { type: 'string' },
    operators: { type: 'string' },
  });
  if (positionals.length > 0) throw new UsageError(`serve takes no FILE, got ${positionals.join(' ')}`);
  const port = values.port === undefined ? 8080 : Number(values.port);
  if (!/^[0-9]{1,5}$/.test(values.port ?? '8080') || port > 65_535)
    throw new UsageError(`--port takes 0 to 65535, got '${values.port}'`);
  const operatorsDir = values.operators ?? 'functions/operators';
  if (!(existsSync(operatorsDir) && statSync(operatorsDir).isDirectory()))
    throw new UsageError(`--operators ${operatorsDir} is not a folder`);

  let server: DagServer;
  try {
    server = await DagServer.start({
      port,
      operatorsDir,
      ...(values.data === undefined ? {} : { dataDir: values.data }),
      log: (line) => io.stderr(line),
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new CliIoError(`port ${port} is in use; try --port 0 for any free port`);
    if (code === 'EACCES') throw new CliIoError(`not allowed to listen on port ${port}`);
    if (error instanceof DataDirInUseError) throw new CliIoError(error.message);
    throw error;
  }
  io.stderr(
    `dag serve: ${server.url}/ (API and web view); data ${values.data === undefined ? 'in memory' : `in ${values.data}, uploads in ${values.data}/uploads/<workflow>/`}; Ctrl-C stops`,
  );
  await new Promise<void>((stopped) => {
    const stop = () => stopped();
    if (stopSignal) stopSignal.addEventListener('abort', stop, { once: true });
    else {
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    }
  });
  io.stderr('dag serve: stopping');
  await server.close();
  return 0;
}
