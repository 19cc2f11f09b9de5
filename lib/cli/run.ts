import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { compileWorkflowText, type PlanStrategy } from '../compiler/compile.js';
import type { ExecutionPlan } from '../compiler/plan-types.js';
import { formatDiagnostic, hasErrors, sortDiagnostics } from '../dag/diagnostics.js';
import { EmbeddedEngine, type ProgressEvent, type TaskResult } from '../local/engine.js';
import { renderTaskReport } from '../web/report.js';
import { readTextFile } from './files.js';
import type { CommandIo } from './io.js';
import { CliIoError, parseCommandLine, parseParams, UsageError } from './usage.js';

/**
 * `dag run FILE [--input JSON|@file] [--operators DIR] [--param k=v] [--no-optimize] [--plan P]
 * [--json] [--report out.html]`: one task on the embedded engine. 0 when it succeeded, 1 when it failed or the DAG is
 * invalid, 2 on usage or I/O errors.
 */
export async function runRun(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    input: { type: 'string' },
    operators: { type: 'string' },
    param: { type: 'string', multiple: true },
    'no-optimize': { type: 'boolean' },
    plan: { type: 'string' },
    json: { type: 'boolean' },
    data: { type: 'string' },
    report: { type: 'string' },
  });
  const [file] = positionals;
  if (!file || positionals.length > 1) throw new UsageError('run takes one workflow FILE');
  if (values.plan !== undefined && values.plan !== 'fastest' && values.plan !== 'cheapest')
    throw new UsageError('--plan is fastest or cheapest');
  const input = parseInput(values.input);
  const operatorsDir = values.operators ?? 'functions/operators';
  const params = parseParams(values.param);

  const engine = await EmbeddedEngine.start({ operatorsDir, dataDir: values.data });
  try {
    const compiled = compileWorkflowText(readTextFile(file), {
      params,
      optimize: !values['no-optimize'],
      strategy: values.plan as PlanStrategy | undefined,
      operatorExists: (op) => engine.catalog.has(op),
    });
    for (const d of sortDiagnostics(compiled.diagnostics)) io.stderr(formatDiagnostic(file, d));
    if (hasErrors(compiled.diagnostics) || !compiled.asl) return 1;

    const stopReading = readCallbacksFromStdin(engine, io);
    engine.emitWaiting = (item) =>
      io.stderr(
        `waiting: ${item.id} (attempt ${item.attempt}) — send {"id": "${item.id}", "status": "SUCCEEDED", "output": {...}} as a line on stdin`,
      );
    let result: TaskResult;
    try {
      result = await engine.runTask(compiled, input, { onProgress: (event) => reportProgress(event, io) });
    } finally {
      stopReading();
    }
    if (values.json) io.stdout(JSON.stringify(result));
    else {
      io.stderr(
        `task ${result.taskId} ${result.status} in ${result.stats.durationMs} ms (${result.stats.stateTransitions} state transitions)`,
      );
      if (result.error) io.stderr(`error ${result.error.error}: ${result.error.cause}`);
      io.stdout(JSON.stringify(result.output ?? null, null, 2));
    }
    if (values.report !== undefined) await writeReport(values.report, compiled.plan!, result, io);
    return result.status === 'SUCCEEDED' ? 0 : 1;
  } finally {
    await engine.close();
  }
}

/** `--report out.html`: the DAG coloured by status and the trace Gantt, in one self-contained file. */
async function writeReport(
  path: string,
  plan: ExecutionPlan,
  result: TaskResult,
  io: CommandIo,
): Promise<void> {
  const html = await renderTaskReport(plan, result);
  try {
    writeFileSync(path, html);
  } catch (error) {
    throw new CliIoError(`cannot write ${path}: ${(error as Error).message}`);
  }
  io.stderr(`report: ${path}`);
}

function parseInput(raw: string | undefined): unknown {
  if (raw === undefined) return {};
  const text = raw.startsWith('@') ? readTextFile(raw.slice(1)) : raw;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--input is not JSON: ${(error as Error).message}`);
  }
}

function reportProgress(event: ProgressEvent, io: CommandIo): void {
  switch (event.type) {
    case 'node-started':
      io.stderr(`> ${event.node} (${event.nodeType})`);
      break;
    case 'node-finished':
      io.stderr(`${event.status === 'SUCCEEDED' ? 'ok' : 'FAILED'} ${event.node} ${event.ms} ms`);
      break;
    case 'segments':
      io.stderr(`  ${event.node} ${event.done}${event.total > 0 ? `/${event.total}` : ''} segments`);
      break;
  }
}

/** Callbacks for external work arrive as JSON lines on stdin (dag-spec §8). */
function readCallbacksFromStdin(engine: EmbeddedEngine, io: CommandIo): () => void {
  if (process.stdin.isTTY === undefined && process.stdin.readableEnded) return () => {};
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() === '') return;
    let body: unknown;
    try {
      body = JSON.parse(line);
    } catch {
      io.stderr(`callback: 400 not JSON: ${line.slice(0, 80)}`);
      return;
    }
    void engine
      .callback(body, Buffer.byteLength(line))
      .then((answer) => io.stderr(`callback: ${answer.status} ${answer.message}`));
  });
  return () => {
    lines.close();
    process.stdin.pause();
    process.stdin.unref?.();
  };
}
