// The process an operator runs in on the embedded engine, behind lib/runtime/operator-processes.ts. It
// is plain JavaScript on purpose: it starts as a bare `node` child without the host's loaders (tsx,
// vitest), and registers tsx itself the first time it loads a TypeScript module, so operators load the
// same way under `dag run`, `dag serve` and vitest.
//
// One attempt at a time: the host sends `load` (once per module) and then `run`, and gets one reply per
// request. It writes nothing to tracking: the host records the attempt, whatever becomes of this
// process. What ends the process is the host's business too: an uncaught exception or unhandled
// rejection is reported as `fatal` and then ends it, as it would end a Lambda invocation.
import process from 'node:process';

const TYPESCRIPT = /\.m?ts$/;

/** Module URL -> its handler, once it has loaded. */
const handlers = new Map();
let tsxRegistered = false;

async function handlerOf(url) {
  const known = handlers.get(url);
  if (known) return known;
  if (TYPESCRIPT.test(url) && !tsxRegistered) {
    const { register } = await import('tsx/esm/api');
    register();
    tsxRegistered = true;
  }
  const module = await import(url);
  const handler = module.handler ?? module.default?.handler;
  if (typeof handler !== 'function') {
    throw Object.assign(new Error(`Operator module ${url} does not export a handler(event) function.`), {
      name: 'OperatorNotFoundError',
    });
  }
  handlers.set(url, handler);
  return handler;
}

/** `{error, cause}` as the host's errorInfo makes it (dag-spec §5). */
function errorInfo(error) {
  if (error instanceof Error) return { error: error.name || 'Error', cause: error.message };
  if (typeof error === 'string') return { error: 'Error', cause: error };
  let cause;
  try {
    cause = JSON.stringify(error);
  } catch {
    cause = String(error);
  }
  return { error: 'Error', cause: cause ?? String(error) };
}

function reply(message) {
  try {
    process.send?.(message);
  } catch (error) {
    // A value JSON cannot carry (a cycle, a BigInt) fails the attempt, as a Lambda's response would.
    process.send?.({ id: message.id, ok: false, error: errorInfo(error) });
  }
}

async function serve(request) {
  try {
    const handler = await handlerOf(request.url);
    if (request.type === 'load') return reply({ id: request.id, ok: true });
    const value = await handler(request.event);
    reply({ id: request.id, ok: true, value });
  } catch (error) {
    reply({ id: request.id, ok: false, error: errorInfo(error) });
  }
}

let ending = false;

function fatal(error) {
  if (ending) return;
  ending = true;
  const info = errorInfo(error);
  const end = () => process.exit(1);
  try {
    process.send?.({ type: 'fatal', error: info }, end);
  } catch {
    end();
  }
}

// With this listener an unhandled rejection (Node's default mode, `throw`) arrives here too.
process.on('uncaughtException', fatal);
process.on('message', (request) => void serve(request));
// Without its host there is no one to answer, and nothing this process started should outlive it: it
// leads its own process group (the host starts it detached), so this takes that group down too.
process.on('disconnect', () => {
  try {
    process.kill(-process.pid, 'SIGKILL');
  } catch {
    process.exit(0);
  }
});
process.send?.({ type: 'ready' });
