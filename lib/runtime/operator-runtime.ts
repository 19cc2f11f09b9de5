// Wraps every operator and script invocation, locally and (the same code) in a Lambda: builds the
// operator event of dag-spec §8, records the event or segment and one trace per attempt, logs one
// JSON line, and turns a throw into a named error the state machine's Retry/Catch can see. Large
// payloads pass through here too (payloads.ts): references in the input are resolved before the
// work runs, and an output over the threshold is offloaded before it is recorded or returned.

import { eventIdOf, newTraceId, segmentIdOf } from '../tracking/ids.js';
import type { NodeType, TraceRecord, TraceResource } from '../tracking/records.js';
import { StaleWriteError, type TrackingStore } from '../tracking/store.js';
import type { OperatorEvent } from './operators.js';
import {
  offloadOutput,
  type PayloadLocation,
  type PayloadSettings,
  payloadSettings,
  resolvePayloads,
} from './payloads.js';

export interface Invocation {
  readonly task: { readonly id: string; readonly workflow: string };
  readonly node: string;
  readonly nodeType: NodeType;
  /** Set for one item of a parallel node. */
  readonly order?: number;
  readonly attempt: number;
  readonly input: unknown;
  readonly resource?: TraceResource;
  /**
   * false for async work, whose event the callback path finishes (the trace is still recorded).
   * Default true.
   */
  readonly recordWork?: boolean;
}

/** An operator's failure as the state machine sees it: `name` is the ASL error, `message` the cause. */
export class OperatorFailedError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

export type LogLine = (entry: Record<string, unknown>) => void;

export const jsonLog: LogLine = (entry) => process.stderr.write(`${JSON.stringify(entry)}\n`);
export const silentLog: LogLine = () => {};

export function errorInfo(error: unknown): { error: string; cause: string } {
  if (error instanceof Error) return { error: error.name || 'Error', cause: error.message };
  return { error: 'Error', cause: typeof error === 'string' ? error : JSON.stringify(error) };
}

export class OperatorRuntime {
  constructor(
    private readonly store: TrackingStore,
    private readonly log: LogLine = silentLog,
    private readonly payloads: PayloadSettings = payloadSettings(),
  ) {}

  /**
   * Runs `work` as one attempt of the invocation and records it. `work` gets the input with its
   * payload references resolved (as `event.input`); what it returns is offloaded when over the
   * threshold, and the reference is what is recorded and returned. Either failing fails the attempt.
   */
  async run(requested: Invocation, work: (event: OperatorEvent) => unknown): Promise<unknown> {
    const recordWork = requested.recordWork !== false;
    const invocation = recordWork ? { ...requested, attempt: await this.startWork(requested) } : requested;
    const { task, node, order, attempt } = invocation;
    const eventId = eventIdOf(task.id, node);
    const segmentId = order === undefined ? undefined : segmentIdOf(eventId, order);

    const at: PayloadLocation = { taskId: task.id, node, attempt, ...(order === undefined ? {} : { order }) };
    const started = new Date();
    let output: unknown;
    let offloaded = false;
    let failure: { error: string; cause: string } | undefined;
    try {
      const event: OperatorEvent = {
        task,
        node: { name: node, eventId, attempt },
        ...(segmentId === undefined ? {} : { segment: { id: segmentId, order: order! } }),
        input: await resolvePayloads(invocation.input, node, this.payloads),
      };
      const value = (await work(event)) ?? null;
      output = await offloadOutput(value, at, this.payloads);
      offloaded = output !== value;
    } catch (error) {
      failure = errorInfo(error);
    }
    const ended = new Date();
    const trace: TraceRecord = {
      traceId: newTraceId(),
      taskId: task.id,
      eventId,
      ...(segmentId === undefined ? {} : { segmentId }),
      attempt,
      resource: invocation.resource ?? 'cpu',
      startedAt: started.toISOString(),
      endedAt: ended.toISOString(),
      durationMs: ended.getTime() - started.getTime(),
      status: failure ? 'FAILED' : 'SUCCEEDED',
      ...(failure ? { error: failure } : {}),
    };
    await this.store.recordTrace(trace);
    const kept = recordWork ? await this.finishWork(invocation, failure, output) : true;
    const outcome = failure ? `failed: ${failure.error}` : 'succeeded';
    this.log({
      level: failure ? 'ERROR' : kept ? 'INFO' : 'WARN',
      // Its task stopped it meanwhile (lib/runtime/stopped-work.ts): nothing awaits the outcome.
      message: kept ? `${node} ${outcome}` : `${node} ${outcome} after its task stopped it; not recorded`,
      taskId: task.id,
      eventId,
      ...(segmentId === undefined ? {} : { segmentId }),
      traceId: trace.traceId,
      attempt,
      durationMs: trace.durationMs,
      ...(offloaded ? { payload: output } : {}),
    });
    if (failure) throw new OperatorFailedError(failure.error, failure.cause);
    return output === undefined ? null : output;
  }

  /**
   * Records the attempt's start; returns the attempt number it is recorded under. A redriven Step
   * Functions execution counts its retries from 0 again: when the row already holds a FAILED attempt
   * at or past the one asked for, this attempt is numbered after it instead of being refused as stale.
   */
  private async startWork(invocation: Invocation): Promise<number> {
    const { task, node, order, nodeType } = invocation;
    const start = (attempt: number) =>
      order === undefined
        ? this.store.startEvent({ taskId: task.id, node, type: nodeType, attempt })
        : this.store.startSegment({ taskId: task.id, node, order, attempt });
    const first = await start(invocation.attempt);
    const row = first.record;
    if (first.applied || row.status !== 'FAILED' || row.attempts < invocation.attempt)
      return invocation.attempt;
    const renumbered = row.attempts + 1;
    await start(renumbered);
    return renumbered;
  }

  /**
   * Records the attempt's end; false when the attempt had been ended FAILED already, which only a
   * task's end does to a running attempt (stopped work): its late outcome is not kept.
   */
  private async finishWork(
    invocation: Invocation,
    failure: { error: string; cause: string } | undefined,
    output: unknown,
  ): Promise<boolean> {
    const { task, node, order, attempt } = invocation;
    const result = failure
      ? { status: 'FAILED' as const, error: failure }
      : { status: 'SUCCEEDED' as const, output: output === undefined ? null : output };
    try {
      if (order === undefined) await this.store.finishEvent({ taskId: task.id, node, attempt, ...result });
      else await this.store.finishSegment({ taskId: task.id, node, order, attempt, ...result });
      return true;
    } catch (error) {
      const stopped =
        error instanceof StaleWriteError &&
        error.current.status === 'FAILED' &&
        error.current.attempt === attempt;
      if (stopped) return false;
      throw error;
    }
  }
}
