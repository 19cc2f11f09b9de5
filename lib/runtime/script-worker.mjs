// The sandbox process behind lib/runtime/script.ts. It is plain JavaScript on purpose: it runs as a
// bare `node` child process, without the tsx or vitest loaders of the host, so it loads as-is wherever
// the host runs.
//
// It runs one script at a time and answers every request with a reply (see `WorkerReply` in script.ts):
// the script's result as JSON, or a failure the host turns into an error class. The limits it enforces
// itself are soft (the process survives them); the host enforces the hard ones by killing the process.
import process from 'node:process';
import jsonata from 'jsonata';
import { newQuickJSWASMModuleFromVariant, newVariant, RELEASE_SYNC } from 'quickjs-emscripten';

const WASM_PAGE_BYTES = 64 * 1024;
// What the QuickJS build itself occupies before any script runs (its default initial memory).
const QUICKJS_BASE_BYTES = 16 * 1024 * 1024;
// QuickJS measures its stack inside WebAssembly memory, while its C frames also consume the process's
// native stack (raised by the host with --stack-size). Measured: at 256 KiB every recursion tried ends
// as a QuickJS "stack overflow" (about 1,500 plain calls deep); at 512 KiB some ran out of native
// stack first. JSON nesting is not counted by QuickJS at all: see the RangeError in runRequest.
const QUICKJS_STACK_BYTES = 256 * 1024;
const SCRIPT_FILE = 'script.js';
// The function header shares line 1 with the user's first line, so QuickJS line numbers are the
// user's own; only columns on line 1 are shifted by the header's length.
const FUNCTION_HEADER = '(function (ctx) {';

// Generous: a busy machine may be slow to run even the warm-up scripts, which must not fail.
const WARM_UP_TIMEOUT_MS = 60_000;

const memoryLimitBytes = Number(process.argv[2]);

const memory = createCappedMemory(memoryLimitBytes);
const quickjs = await newQuickJSWASMModuleFromVariant(newVariant(RELEASE_SYNC, { wasmMemory: memory.wasm }));

async function runRequest(request) {
  try {
    return request.language === 'jsonata'
      ? await runJsonata(request.source, request.contextJson, request.timeoutMs)
      : runJavascript(request.source, request.contextJson, request.timeoutMs);
  } catch (error) {
    // Only a fault of the sandbox itself lands here, after which QuickJS's state cannot be trusted:
    // the reply asks for a fresh process. Running out of native stack is the one a script can cause.
    if (error instanceof RangeError && /call stack/.test(error.message)) {
      return failure('thrown', 'InternalError: stack overflow (nested too deeply)', {}, true);
    }
    return failure('crash', `The script sandbox failed: ${describe(error)}`, {}, true);
  }
}

// ---------------------------------------------------------------------------------------------------
// Memory

/**
 * QuickJS's own memory limit does not add up an allocation's size in this WebAssembly build (it counts
 * blocks), so the real bound is the WebAssembly memory: it may not grow past the base plus the limit,
 * and a refused growth makes QuickJS's allocator fail with "out of memory". The flag tells that
 * refusal apart from a script that merely throws null.
 */
function createCappedMemory(limitBytes) {
  const maximumPages = Math.ceil((QUICKJS_BASE_BYTES + limitBytes) / WASM_PAGE_BYTES);
  const wasm = new WebAssembly.Memory({
    initial: QUICKJS_BASE_BYTES / WASM_PAGE_BYTES,
    maximum: maximumPages,
  });
  const state = { wasm, growthRefused: false };
  const grow = wasm.grow.bind(wasm);
  wasm.grow = (pages) => {
    try {
      return grow(pages);
    } catch (error) {
      state.growthRefused = true;
      throw error;
    }
  };
  return state;
}

// ---------------------------------------------------------------------------------------------------
// JSONata

async function runJsonata(source, contextJson, timeoutMs) {
  let expression;
  try {
    // jsonata's own time limit is checked at every evaluation step; it ends most runaway expressions
    // without losing this process. A single long built-in call (a pathological regex) is left to the host.
    expression = jsonata(source, { timeout: timeoutMs });
  } catch (error) {
    return failure('syntax', jsonataMessage(error), jsonataPosition(error));
  }
  let value;
  try {
    value = await expression.evaluate(JSON.parse(contextJson));
  } catch (error) {
    const kind = error?.code === 'D1012' ? 'timeout' : 'thrown';
    return failure(kind, jsonataMessage(error), jsonataPosition(error));
  }
  try {
    return { ok: true, resultJson: JSON.stringify(value, rejectJsonataFunctions) ?? 'null' };
  } catch (error) {
    return failure('result', `The script's result is not JSON: ${describe(error)}`);
  }
}

// jsonata functions are plain objects with an environment inside; serialising one would walk the
// whole evaluation scope, so it is refused by its marker before JSON.stringify descends into it.
function rejectJsonataFunctions(key, value) {
  const isFunction =
    typeof value === 'function' ||
    (typeof value === 'object' && value !== null && (value._jsonata_lambda || value._jsonata_function));
  if (isFunction) throw new TypeError(`a function ${where(key)}`);
  return value;
}

function jsonataMessage(error) {
  if (typeof error?.message !== 'string') return describe(error);
  // D3137 is $error(): its message is the author's own, without a code to look up.
  return error.code && error.code !== 'D3137' ? `${error.message} [${error.code}]` : error.message;
}

// The host turns jsonata's character offset into a line and column, as its syntax check does.
function jsonataPosition(error) {
  return typeof error?.position === 'number' ? { offset: error.position } : {};
}

// ---------------------------------------------------------------------------------------------------
// JavaScript (QuickJS)

/**
 * Runs the body with a fresh runtime and context, so nothing a script leaves behind reaches the next
 * one. The context goes in and the result comes out as JSON text: no host object is ever visible
 * inside, and the guest has no modules, timers, I/O or `console`.
 */
function runJavascript(source, contextJson, timeoutMs) {
  const runtime = quickjs.newRuntime();
  const guest = { interrupted: false };
  const deadline = Date.now() + timeoutMs;
  runtime.setMemoryLimit(memoryLimitBytes);
  runtime.setMaxStackSize(QUICKJS_STACK_BYTES);
  // QuickJS polls this every few thousand operations; the host's hard limit covers loops whose
  // iterations are slow built-in calls, which reach the poll too rarely.
  runtime.setInterruptHandler(() => {
    guest.interrupted = Date.now() >= deadline;
    return guest.interrupted;
  });
  memory.growthRefused = false;
  const vm = runtime.newContext();
  const handles = [];
  let reply;
  try {
    reply = runInContext(vm, runtime, handles, source, contextJson, guest);
  } finally {
    // An exception escaping here is a fault of the sandbox, which runRequest answers on its own.
    if (!disposeAll(vm, runtime, handles) && reply) reply = { ...reply, recycle: true };
  }
  return reply;
}

function runInContext(vm, runtime, handles, source, contextJson, guest) {
  const keep = (handle) => {
    handles.push(handle);
    return handle;
  };
  // Taken before the user's code runs, so a script that replaces JSON cannot change how its own
  // context is read or its result written.
  const parse = vm.evalCode('JSON.parse', 'prelude.js');
  if (parse.error) return guestFailure(vm, keep(parse.error), 'thrown', guest);
  keep(parse.value);
  const toJson = vm.evalCode(TO_JSON_SOURCE, 'prelude.js');
  if (toJson.error) return guestFailure(vm, keep(toJson.error), 'thrown', guest);
  keep(toJson.value);

  const compiled = vm.evalCode(`${FUNCTION_HEADER}${source}\n})`, SCRIPT_FILE);
  if (compiled.error) return guestFailure(vm, keep(compiled.error), 'compile', guest);
  const fn = keep(compiled.value);

  const text = keep(vm.newString(contextJson));
  const parsed = vm.callFunction(parse.value, vm.undefined, text);
  if (parsed.error) return guestFailure(vm, keep(parsed.error), 'thrown', guest);
  const ctx = keep(parsed.value);
  const called = vm.callFunction(fn, vm.undefined, ctx);
  if (called.error) return guestFailure(vm, keep(called.error), 'thrown', guest);

  const settled = settle(vm, runtime, keep(called.value), keep);
  if (settled.error) return guestFailure(vm, settled.error, 'thrown', guest);
  if (settled.pending) {
    return failure(
      'thrown',
      'The script returned a Promise that never settles (there are no timers or I/O).',
    );
  }
  const json = vm.callFunction(toJson.value, vm.undefined, settled.value);
  if (json.error) return guestFailure(vm, keep(json.error), 'result', guest);
  return { ok: true, resultJson: vm.getString(keep(json.value)) };
}

// Pending jobs run before the result is read, as they would once the function returned; so a
// returned Promise of `async` code that awaits only values is settled by then. One still waiting
// (on something that can never come: there are no timers or I/O) is reported, not waited for.
function settle(vm, runtime, value, keep) {
  const jobs = runtime.executePendingJobs();
  if (jobs.error) return { error: keep(jobs.error) };
  const state = vm.getPromiseState(value);
  if (state.type === 'pending') return { pending: true };
  if (state.type === 'rejected') return { error: keep(state.error) };
  return { value: state.notAPromise ? value : keep(state.value) };
}

// The replacer refuses what JSON.stringify would silently drop, so a result never loses a field
// without the author knowing; cycles and BigInts already throw on their own.
const TO_JSON_SOURCE = `(() => {
  const stringify = JSON.stringify;
  const replacer = (key, value) => {
    const type = typeof value;
    if (type === 'function' || type === 'symbol') {
      throw new TypeError('a ' + type + (key === '' ? ' at the top level' : ' at key "' + key + '"'));
    }
    return value;
  };
  return (value) => (value === undefined ? 'null' : (stringify(value, replacer) ?? 'null'));
})()`;

function guestFailure(vm, errorHandle, kind, guest) {
  if (guest.interrupted) return failure('timeout', 'interrupted');
  if (memory.growthRefused) return failure('memory', 'out of memory', {}, true);
  const error = vm.dump(errorHandle);
  if (error?.name === 'InternalError' && error.message === 'out of memory') {
    return failure('memory', 'out of memory', {}, true);
  }
  // A body that closes the function early ("}); ...") runs code while compiling; what that throws
  // is a script error, not a syntax error.
  const reported = kind === 'compile' ? (error?.name === 'SyntaxError' ? 'syntax' : 'thrown') : kind;
  return failure(reported, guestMessage(error, reported), guestPosition(error));
}

function guestMessage(error, kind) {
  if (typeof error !== 'object' || error === null || typeof error.message !== 'string') {
    return `The script threw ${safeJson(error)}`;
  }
  if (kind === 'syntax') return error.message;
  const message = error.name && error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message;
  return kind === 'result' ? `The script's result is not JSON: ${message}` : message;
}

// QuickJS stack frames read "at f (script.js:LINE:COLUMN)"; a syntax error's reads "at script.js:L:C".
function guestPosition(error) {
  const stack = typeof error?.stack === 'string' ? error.stack : '';
  const match = /script\.js:(\d+)(?::(\d+))?/.exec(stack);
  if (!match) return {};
  const line = Number(match[1]);
  if (match[2] === undefined) return { line };
  const column = Number(match[2]) - (line === 1 ? FUNCTION_HEADER.length : 0);
  return { line, column: Math.max(1, column) };
}

// Every handle must be released before its context, or QuickJS aborts the whole module. False when
// disposing failed anyway: the host then replaces this process.
function disposeAll(vm, runtime, handles) {
  try {
    for (const handle of handles.reverse()) if (handle.alive) handle.dispose();
    vm.dispose();
    runtime.dispose();
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------
// Shared

function failure(kind, message, position = {}, recycle = false) {
  return { ok: false, failure: { kind, message, ...position }, recycle };
}

function where(key) {
  return key === '' ? 'at the top level' : `at key "${key}"`;
}

function describe(error) {
  return error instanceof Error ? error.message : safeJson(error);
}

function safeJson(value) {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

// ---------------------------------------------------------------------------------------------------
// Serving: last in the module, so everything above is initialised before the first script runs.

process.on('message', async (request) => {
  const reply = await runRequest(request);
  process.send?.({ id: request.id, ...reply });
});
// Without its host the process has no purpose left.
process.on('disconnect', () => process.exit(0));
// The first script of a fresh process is slow (QuickJS's first runtime takes ~40 ms): that cost is
// paid here, before the host starts any script's clock. Its outcome does not matter.
runJavascript('return null;', 'null', WARM_UP_TIMEOUT_MS);
await runJsonata('null', 'null', WARM_UP_TIMEOUT_MS);
process.send?.({ type: 'ready' });
