// The embedded engine: runs the compiled ASL with aws-local-stepfunctions, every Task state bound by
// its name to the same runtime code the Lambdas run, tracking in dynalite. Async nodes park a minted
// token on their event and resume only through the callback path, or fail on their timeout or
// heartbeat timeout, which the engine keeps itself (parked-work.ts). A task left RUNNING by an engine
// that stopped can be resumed by another on the same data (recovery.ts).
import './polyfill.js';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { ExecutionTimeoutError, StateMachine } from 'aws-local-stepfunctions';
import type { CompileResult } from '../compiler/compile.js';
import type { AslDefinition } from '../compiler/emit.js';
import { itemsStaged } from '../compiler/map-io.js';
import { allStates } from '../compiler/passes.js';
import type { ExecutionPlan } from '../compiler/plan-types.js';
import { parseReference } from '../dag/reference.js';
import type { AsyncNode, ItemNode, WorkflowNode } from '../dag/schema.js';
import {
  type BarrierDeps,
  BarrierPayloadError,
  parseBarrierPayload,
  passBarrier,
} from '../runtime/barriers.js';
import {
  answerForStoreError,
  type Callback,
  type CallbackAnswer,
  outcomeOf,
  recordWorkOutcome,
  screenCallback,
} from '../runtime/callbacks.js';
import { type FusedChainInput, runFusedChain } from '../runtime/fused-chain.js';
import { sendHttpCallback } from '../runtime/http-callback.js';
import { runMapStore } from '../runtime/map-store.js';
import {
  errorInfo,
  type LogLine,
  OperatorFailedError,
  OperatorRuntime,
  silentLog,
} from '../runtime/operator-runtime.js';
import { OperatorCatalog } from '../runtime/operators.js';
import { explainFailure } from '../runtime/payload-reference.js';
import { reportingPlanOf } from '../runtime/reporting.js';
import { runScript } from '../runtime/script.js';
import { finishStoppedWork } from '../runtime/stopped-work.js';
import { checkTolerance, type ToleranceInput } from '../runtime/tolerance.js';
import type { WorkItem } from '../runtime/work-item.js';
import { type BarrierContext, type BarrierStore, DynamoBarrierStore } from '../tracking/barrier-store.js';
import { createTrackingDocumentClient, DynamoTrackingStore } from '../tracking/dynamo-store.js';
import { eventIdOf, newTaskId, segmentIdOf } from '../tracking/ids.js';
import type { TaskRecord, TraceRecord } from '../tracking/records.js';
import { TaskNotFoundError, type TrackingStore } from '../tracking/store.js';
import { eventView, segmentView, type TaskView } from '../tracking/task-view.js';
import { LocalBus, LocalQueues, queueNameOfUrl } from './bus.js';
import { type EmulatedMaps, emulateDistributedMaps } from './distributed-map.js';
import { type LocalDynamo, startLocalDynamo } from './dynalite.js';
import { operatorTimeLimits } from './operator-limits.js';
import { engineTimedAsl, LOCAL_MAX_WAIT_SECONDS, ParkedWork } from './parked-work.js';
import { resumableWork } from './recovery.js';

export interface EngineOptions {
  /** The operator catalog folder (default functions/operators). */
  readonly operatorsDir?: string;
  /** Keep tracking data on disk here; in memory when absent. */
  readonly dataDir?: string;
  /** Override retry waits (ms) so tests need not sleep through backoff. */
  readonly retryDelayMs?: number;
  /** How many `via: batch` (GPU) jobs run at once. */
  readonly gpuSlots?: number;
  /** The most operator processes at once (each runs one attempt; lib/runtime/operator-processes.ts). */
  readonly operatorProcesses?: number;
  readonly log?: LogLine;
  /** Track into this store instead of a dynalite started by the engine (`dataDir` is then unused). */
  readonly store?: TrackingStore;
  /** With `store`: where barriers (`--plan fastest`) keep their tokens; none means plans without them. */
  readonly barriers?: BarrierStore;
}

export type ProgressEvent =
  | {
      readonly type: 'node-started';
      readonly taskId: string;
      readonly node: string;
      readonly nodeType: string;
    }
  | {
      readonly type: 'node-finished';
      readonly taskId: string;
      readonly node: string;
      readonly status: string;
      readonly ms: number;
    }
  | {
      readonly type: 'segments';
      readonly taskId: string;
      readonly node: string;
      readonly done: number;
      readonly total: number;
    };

export type { WorkItem };

/** The `dag run --json` object (dag-spec §8): the task view with its traces and run statistics. */
export interface TaskResult extends Omit<TaskView, 'stats'> {
  readonly traces: TraceRecord[];
  readonly stats: { stateTransitions: number; durationMs: number };
}

export interface RunTaskOptions {
  /**
   * Re-run the failed (timed-out, aborted) task `taskId` from where it failed: nodes and items that
   * succeeded give their recorded outputs without running again; the others run with attempt
   * numbers after the ones already recorded.
   */
  readonly redrive?: boolean;
  /**
   * Continue the RUNNING task `taskId` that an engine which stopped was running (recovery.ts): what
   * succeeded is reused, external work that waited waits again under the same id and attempt, the rest
   * of the work in flight runs again as its next attempt.
   */
  readonly resume?: boolean;
  readonly taskId?: string;
  readonly onProgress?: (event: ProgressEvent) => void;
}

/** A task started by `startTask`. */
export interface TaskHandle {
  readonly taskId: string;
  /** Settles with the §8 result when the task ends, whatever its status; never rejects for a failed task. */
  readonly done: Promise<TaskResult>;
  /**
   * Stops the execution: the task ends ABORTED. An operator call under way runs to its end on its own,
   * but what it was doing is recorded as stopped (lib/runtime/stopped-work.ts).
   */
  abort(): void;
  /** States entered so far and time since the start, while the task runs. */
  stats(): { stateTransitions: number; durationMs: number };
  /** For a resumed task: the external work parked again, waiting for its callback. */
  readonly reparked: readonly { readonly id: string; readonly attempt: number }[];
}

/** A task this engine runs, as `close` sees it. */
interface LiveTask {
  /** Stops the execution without ending the task: it stays RUNNING in the store, to be resumed. */
  suspend(): void;
  readonly done: Promise<TaskResult>;
}

type Handler = (input: unknown) => Promise<unknown>;

/** What the engine knows about each compiled workflow: the plan, the ASL, one StateMachine. */
interface Prepared {
  readonly plan: ExecutionPlan;
  readonly asl: AslDefinition;
  readonly machine: StateMachine;
  /** State name -> the business node it reports on, for states that run no operator. */
  readonly reporting: Map<string, { node: string; type: WorkflowNode['type'] }>;
  /** State name -> the end node folded into it (it ends the task when it finishes). */
  readonly foldedEnds: Map<string, string>;
  /** State -> the state after it that ends its node's event instead (reporting.ts). */
  readonly toleranceChecks: Map<string, string>;
  /** The states that do a Distributed Map's ItemReader and ResultWriter here, and their handlers. */
  readonly emulated: EmulatedMaps;
  /** State name -> TimeoutSeconds of the sync operator Tasks, whose limits the engine keeps itself. */
  readonly timeLimits: Map<string, number>;
}

const WORK_QUEUE = 'work';

export class EmbeddedEngine {
  readonly bus = new LocalBus();
  readonly queues = new LocalQueues();
  readonly catalog: OperatorCatalog;
  private readonly runtime: OperatorRuntime;
  private readonly parked: ParkedWork;
  private readonly live = new Map<string, LiveTask>();
  private closed = false;
  private readonly prepared = new WeakMap<ExecutionPlan, Prepared>();
  private readonly consumedQueues = new Set<string>();
  private gpuInUse = 0;
  private readonly gpuWaiting: (() => void)[] = [];

  /** Barrier waits parked on a minted token, until a release (or the wait itself) completes them. */
  private readonly barrierWaits = new Map<
    string,
    { readonly taskId: string; readonly resume: (output: BarrierContext) => void }
  >();

  private constructor(
    readonly store: TrackingStore,
    private readonly barriers: BarrierStore | undefined,
    private readonly dynamo: LocalDynamo | undefined,
    private readonly options: EngineOptions,
  ) {
    this.catalog = new OperatorCatalog(
      options.operatorsDir ?? join(process.cwd(), 'functions', 'operators'),
      {
        maxProcesses: options.operatorProcesses,
      },
    );
    this.runtime = new OperatorRuntime(store, options.log ?? silentLog);
    this.parked = new ParkedWork(store);
  }

  static async start(options: EngineOptions = {}): Promise<EmbeddedEngine> {
    if (options.store) return new EmbeddedEngine(options.store, options.barriers, undefined, options);
    const dynamo = await startLocalDynamo(options.dataDir ? { path: join(options.dataDir, 'dynamodb') } : {});
    const documentClient = createTrackingDocumentClient(dynamo.client);
    const store = new DynamoTrackingStore({ documentClient, tableNames: dynamo.tableNames });
    const barriers = new DynamoBarrierStore(documentClient, dynamo.tableNames.barriers);
    return new EmbeddedEngine(store, barriers, dynamo, options);
  }

  /**
   * Stops the engine. Tasks still running are suspended, not ended: they stay RUNNING in the store, with
   * their waiting work, for an engine started later on the same data to resume (`resume`).
   */
  async close(): Promise<void> {
    this.closed = true;
    const live = [...this.live.values()];
    for (const task of live) task.suspend();
    this.parked.close();
    await Promise.allSettled(live.map((task) => task.done));
    await this.catalog.close();
    await this.dynamo?.close();
  }

  /** Runs one task to its end (async work included) and returns the §8 result. */
  async runTask(compiled: CompileResult, input: unknown, options: RunTaskOptions = {}): Promise<TaskResult> {
    return (await this.startTask(compiled, input, options)).done;
  }

  /**
   * Starts one task and returns once its record exists, without waiting for it to end (`dag serve`
   * answers 202 here). `done` settles with the §8 result, whatever the task's status.
   */
  async startTask(
    compiled: CompileResult,
    input: unknown,
    options: RunTaskOptions = {},
  ): Promise<TaskHandle> {
    const prepared = this.prepare(compiled);
    const workflow = prepared.plan.dag.workflow.name;
    const taskId = options.taskId ?? newTaskId();
    const task = { id: taskId, workflow };
    const attempts = new Map<string, number>();
    const reuse = new Map<string, unknown>();
    let replayingStates: readonly string[] = [];
    let reparked: { id: string; attempt: number }[] = [];
    if (options.redrive) {
      input = (await this.priorWork(taskId, attempts, reuse)).input;
      await this.store.redriveTask({ taskId });
    } else if (options.resume) {
      const resumed = await resumableWork(this.store, prepared.plan, taskId, attempts, reuse);
      input = resumed.task.input;
      replayingStates = resumed.replayingStates;
      // Parked before the execution starts: a callback may come before the execution gets there.
      try {
        for (const request of resumed.reparks) await this.parked.repark(request);
      } catch (error) {
        this.parked.dropTask(taskId);
        throw error;
      }
      reparked = resumed.reparks.map((request) => ({ id: request.workId, attempt: request.attempt }));
    } else {
      await this.store.createTask({ taskId, workflow, input, engine: 'embedded' });
    }
    const progress = options.onProgress ?? (() => {});
    const started = Date.now();
    const context = { task, input, params: prepared.plan.params, nodes: {}, errors: {} };
    const itemTotals = new Map<string, number>();
    const gate = new TaskGate();
    const handlers = this.handlersFor(prepared, task, attempts, reuse, itemTotals, progress, gate);
    const retryOverrides = {
      ...(this.options.retryDelayMs === undefined
        ? {}
        : Object.fromEntries(Object.keys(handlers).map((name) => [name, this.options.retryDelayMs!]))),
      // A state that only replays a recorded failure has nothing to wait for between its retries.
      ...Object.fromEntries(replayingStates.map((name) => [name, 0])),
    };
    const execution = prepared.machine.run(context as never, {
      overrides: {
        taskResourceLocalHandlers: handlers as never,
        ...(Object.keys(retryOverrides).length > 0 ? { retryIntervalOverrides: retryOverrides } : {}),
      },
      // $$.Task.Token and $$.State.RetryCount do not resolve locally: tokens are minted by the async
      // binding, attempts counted per state and item.
      context: { Task: { Token: 'minted-by-the-engine' }, State: { RetryCount: 0 } },
    });

    const counter = { transitions: 0 };
    let aborted = false;
    let suspended = false;
    const transitions = this.followEventLog(
      execution.eventLogs,
      prepared,
      task,
      itemTotals,
      progress,
      counter,
      (node) => attempts.get(node) ?? 1,
    );
    // Awaited once the execution has ended: a failure to record surfaces through `done` then.
    transitions.catch(() => {});
    const done = (async () => {
      let status: TaskRecord['status'] = 'SUCCEEDED';
      let output: unknown;
      let error: { error: string; cause: string } | undefined;
      try {
        output = await execution.result;
      } catch (failure) {
        if (suspended) status = 'RUNNING';
        else if (aborted) status = 'ABORTED';
        else if (failure instanceof ExecutionTimeoutError) {
          status = 'TIMED_OUT';
          error = { error: 'States.Timeout', cause: 'The task ran longer than the workflow timeout.' };
        } else {
          status = 'FAILED';
          const cause = (failure as { cause?: { name?: string; message?: string } }).cause;
          error = await explainFailure(
            this.store,
            taskId,
            cause?.name ? { error: aslErrorName(cause), cause: cause.message ?? '' } : errorInfo(failure),
          );
        }
      }
      // At once, before anything else runs: from here on a binding of this task starts nothing.
      const startsRecorded = gate.close();
      const stateTransitions = await transitions;
      await startsRecorded;
      this.parked.dropTask(taskId);
      this.dropBarrierWaits(taskId);
      if (status !== 'RUNNING') {
        // Work the execution stopped (other branches of a failed fork, say) ends before the task does.
        await finishStoppedWork(this.store, taskId, status);
        await this.store.updateTaskStatus({
          taskId,
          status,
          stateTransitions,
          ...(output === undefined ? {} : { output }),
          ...(error ? { error } : {}),
        });
      }
      return this.result(taskId, workflow, status, output, error, {
        stateTransitions,
        durationMs: Date.now() - started,
      });
    })().finally(() => this.live.delete(taskId));
    this.live.set(taskId, {
      suspend: () => {
        suspended = true;
        execution.abort();
      },
      done,
    });
    return {
      taskId,
      done,
      reparked,
      abort: () => {
        aborted = true;
        execution.abort();
      },
      stats: () => ({ stateTransitions: counter.transitions, durationMs: Date.now() - started }),
    };
  }

  /**
   * Applies a callback (dag-spec §7): 400 malformed, 404 unknown, 413 too large, 410 too late, 409
   * stale or finished; otherwise the waiting state resumes, exactly once, and the answer is 202.
   *
   * Order: claim the token (of any number of callbacks and the attempt's expiry, exactly one takes it),
   * record the outcome, then resume the state, so that the task cannot end before its record does.
   */
  async callback(body: unknown, rawBytes?: number): Promise<CallbackAnswer> {
    const parsed = await screenCallback(
      body,
      rawBytes,
      async (id) => (await this.store.getWork(id)) !== undefined,
    );
    if (!parsed.ok) return parsed.answer;
    const callback = parsed.callback;
    const address = { workId: callback.id, ...(callback.attempt ? { attempt: callback.attempt } : {}) };
    const gone = {
      status: 410,
      message: `Work '${callback.id}' is no longer waited for: its task has ended.`,
    } as const;
    try {
      if (callback.status === 'HEARTBEAT') {
        const work = await this.store.heartbeatWork(address);
        // The attempt's clock reads the extended deadline from the store when it next looks.
        return this.parked.has(work.taskToken) ? { status: 202, message: 'Heartbeat recorded.' } : gone;
      }
      const claimed = await this.store.claimWork(address);
      // Not parked here: its task ended (aborted, timed out) and the token is no longer waited for, as
      // Step Functions answers for the token of an execution that ended; the token stays taken.
      const parked = this.parked.take(claimed.taskToken);
      if (!parked) return gone;
      const outcome = outcomeOf(callback);
      try {
        await recordWorkOutcome(this.store, callback.id, claimed.attempt, outcome);
      } catch (error) {
        await this.store.releaseWork({
          workId: callback.id,
          attempt: claimed.attempt,
          taskToken: claimed.taskToken,
        });
        this.parked.restore(parked);
        throw error;
      }
      parked.settle(outcome);
      return { status: 202, message: 'Accepted.' };
    } catch (error) {
      return answerForStoreError(error);
    }
  }

  private prepare(compiled: CompileResult): Prepared {
    const plan = compiled.plan;
    const asl = compiled.asl;
    if (!plan || !asl) throw new Error('internal: runTask needs a compiled workflow (plan and ASL)');
    const existing = this.prepared.get(plan);
    if (existing) return existing;
    // The same map the compiler Lambda stores for the status Lambda on AWS.
    const reportingPlan = reportingPlanOf(plan);
    const reporting = new Map(Object.entries(reportingPlan.states));
    const timeLimits = operatorTimeLimits(plan, asl);
    // Built once per definition: the constructor validates, which costs tens of milliseconds.
    const emulated = emulateDistributedMaps(engineTimedAsl(asl, new Set(timeLimits.keys())));
    const machine = new StateMachine(emulated.definition as never, {
      validationOptions: { checkArn: true, checkPaths: true },
    });
    const foldedEnds = new Map(Object.entries(reportingPlan.foldedEnds));
    const toleranceChecks = new Map(Object.entries(reportingPlan.toleranceChecks ?? {}));
    const result: Prepared = {
      plan,
      asl,
      machine,
      reporting,
      foldedEnds,
      toleranceChecks,
      timeLimits,
      emulated,
    };
    this.prepared.set(plan, result);
    return result;
  }

  private handlersFor(
    prepared: Prepared,
    task: { id: string; workflow: string },
    attempts: Map<string, number>,
    reuse: ReadonlyMap<string, unknown>,
    itemTotals: ReadonlyMap<string, number>,
    progress: (event: ProgressEvent) => void,
    gate: TaskGate,
  ): Record<string, Handler> {
    const { plan } = prepared;
    const handlers: Record<string, Handler> = { ...prepared.emulated.handlers };
    const nextAttempt = (key: string) => {
      const n = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, n);
      return n;
    };
    const segmentsDone = new Map<string, number>();
    for (const state of allStates(plan)) {
      if (state.kind === 'task' && state.nodes.length > 1) {
        handlers[state.name] = async (input) => {
          const started = gate.enter();
          if (!started) return stopped();
          try {
            return await runFusedChain(input as FusedChainInput, {
              runtime: this.runtime,
              runOperator: (operator, event, seconds) => this.catalog.run(operator, event, seconds * 1000),
              recorded: async (node) =>
                reuse.has(node)
                  ? { status: 'SUCCEEDED', attempts: 1, output: reuse.get(node) }
                  : this.store.getWork(eventIdOf(task.id, node)),
            });
          } finally {
            started();
          }
        };
      } else if (state.kind === 'task') {
        const name = state.nodes[0]!;
        const node = plan.dag.nodes.get(name)!;
        handlers[state.name] = async (input) => {
          if (reuse.has(name)) return reuse.get(name);
          const started = gate.enter();
          if (!started) return stopped();
          try {
            return await this.runNodeTask(
              name,
              node,
              input as TaskInput,
              task,
              nextAttempt(name),
              started,
              undefined,
              prepared.timeLimits.get(state.name),
            );
          } finally {
            started();
          }
        };
      } else if (state.kind === 'map') {
        const parallel = plan.dag.nodes.get(state.node)!;
        if (parallel.type !== 'parallel') continue;
        handlers[state.itemState] = async (input) => {
          const order = itemOrderOf(input);
          const key = `${state.node}#${order}`;
          const started = gate.enter();
          if (!started) return stopped();
          try {
            if (reuse.has(key)) return reuse.get(key);
            return await this.runNodeTask(
              state.node,
              parallel.node,
              input as TaskInput,
              task,
              nextAttempt(key),
              started,
              order,
              prepared.timeLimits.get(state.itemState),
            );
          } finally {
            started();
            const done = (segmentsDone.get(state.node) ?? 0) + 1;
            segmentsDone.set(state.node, done);
            progress({
              type: 'segments',
              taskId: task.id,
              node: state.node,
              done,
              total: itemTotals.get(state.node) ?? -1,
            });
          }
        };
        if (state.toleranceState && !state.storeBacked)
          handlers[state.toleranceState] = async (input) => checkTolerance(input as ToleranceInput);
      } else if (state.kind === 'map-items' || state.kind === 'map-results') {
        handlers[state.name] = async (input) => (gate.isOpen ? runMapStore(input) : stopped());
      } else if (state.kind === 'barrier-wait') {
        handlers[state.name] = async (input) =>
          // A wait registered after the task ended would never be dropped (dropBarrierWaits).
          gate.isOpen ? this.waitAtBarrier((input as { Payload?: unknown }).Payload) : stopped();
      } else if (state.kind === 'barrier-release') {
        handlers[state.name] = async (input) => {
          if (!gate.isOpen) return stopped();
          await passBarrier(parseBarrierPayload(input), this.barrierDeps());
          return {};
        };
      }
    }
    return handlers;
  }

  /**
   * A barrier wait: parks a minted token (the `$$.Task.Token` placeholder does not resolve locally)
   * and settles when the barrier's last producer has released it, through the same resume path.
   */
  private async waitAtBarrier(payload: unknown): Promise<unknown> {
    const wait = parseBarrierPayload(payload);
    if (wait.action !== 'wait') throw new BarrierPayloadError('A wait state got a release payload.');
    const token = `local-${randomUUID()}`;
    const resumed = new Promise<BarrierContext>((resolve) =>
      this.barrierWaits.set(token, { taskId: wait.task.id, resume: resolve }),
    );
    await passBarrier({ ...wait, taskToken: token }, this.barrierDeps());
    return resumed;
  }

  private barrierDeps(): BarrierDeps {
    if (!this.barriers)
      throw new OperatorFailedError(
        'BarrierStoreMissing',
        'This engine was started with a tracking store but no barrier store; compile with --plan cheapest.',
      );
    return {
      store: this.barriers,
      resume: async (token, output) => {
        const wait = this.barrierWaits.get(token);
        this.barrierWaits.delete(token);
        wait?.resume(output);
      },
    };
  }

  private dropBarrierWaits(taskId: string): void {
    for (const [token, wait] of this.barrierWaits)
      if (wait.taskId === taskId) this.barrierWaits.delete(token);
  }

  /**
   * Runs the node behind a Task state: operator, script, async dispatch or callback target. `started`
   * is called once the attempt's start is recorded (the task's end waits for that, see TaskGate); it
   * answers whether the task still runs.
   */
  private async runNodeTask(
    name: string,
    node: WorkflowNode | ItemNode,
    input: TaskInput,
    task: { id: string; workflow: string },
    attempt: number,
    started: () => boolean,
    order?: number,
    /** A sync operator's limit, kept by stopping its process (operator-limits.ts). */
    timeoutSeconds = Number.POSITIVE_INFINITY,
  ): Promise<unknown> {
    // A stopping engine starts nothing (a retry, say): the attempt is left to the engine that resumes.
    if (this.closed) {
      started();
      return stopped();
    }
    switch (node.type) {
      case 'sync':
        return this.runtime.run(
          {
            task,
            node: name,
            nodeType: order === undefined ? 'sync' : 'parallel',
            order,
            attempt,
            input: input.input,
          },
          async (event) => {
            started();
            return this.catalog.run(node.operator, event, timeoutSeconds * 1000);
          },
        );
      case 'script': {
        const script = input as ScriptInput;
        return this.runtime.run(
          { task, node: name, nodeType: 'script', order, attempt, input: script.context },
          // The context with its payload references resolved.
          (event) => {
            started();
            return runScript({
              language: script.language,
              source: script.source,
              context: event.input,
              timeoutMs: script.timeoutMs,
            });
          },
        );
      }
      case 'async':
        return this.dispatchAsync(
          name,
          node,
          (input as unknown as { Payload: AsyncPayload }).Payload,
          task,
          attempt,
          started,
          order,
        );
      case 'callback':
        // Its event comes from the event log: no start to record here.
        started();
        return this.sendCallback(input as unknown as CallbackInput);
      default:
        throw new Error(`internal: no Task binding for a ${node.type} node`);
    }
  }

  private async dispatchAsync(
    name: string,
    node: AsyncNode | Extract<ItemNode, { type: 'async' }>,
    payload: AsyncPayload,
    task: { id: string; workflow: string },
    attempt: number,
    started: () => boolean,
    order?: number,
  ): Promise<unknown> {
    const eventId = eventIdOf(task.id, name);
    const workId = order === undefined ? eventId : segmentIdOf(eventId, order);
    // Parked again after a restart: the worker holds the item already.
    const reparked = this.parked.takeReparked(workId, attempt);
    if (reparked) {
      started();
      return reparked;
    }
    if (order === undefined)
      await this.store.startEvent({ taskId: task.id, node: name, type: 'async', attempt });
    else await this.store.startSegment({ taskId: task.id, node: name, order, attempt });
    const { resumed } = await this.parked.park({
      taskId: task.id,
      workId,
      attempt,
      deadline: new Date(Date.now() + Math.min(payload.timeoutSeconds, LOCAL_MAX_WAIT_SECONDS) * 1000),
      ...(payload.heartbeatSeconds ? { heartbeatSeconds: payload.heartbeatSeconds } : {}),
    });
    // Parked as the task ended: it is dropped with the task's other waits, and not handed out.
    if (!started()) return resumed;
    const item: WorkItem = {
      id: workId,
      attempt,
      task,
      node: { name },
      ...(order === undefined ? {} : { segment: { id: workId, order } }),
      input: payload.input,
    };
    const via = node.via ?? 'lambda';
    if (via === 'queue') {
      const queue = node.queue ?? WORK_QUEUE;
      if (node.operator !== undefined) {
        this.ensureQueueConsumer(queue, node.operator);
        // The consumer stops the operator when the attempt's time is up, as the lambda path does.
        this.queuedLimits.set(attemptKeyOf(item), {
          deadline: Date.now() + Math.min(payload.timeoutSeconds, LOCAL_MAX_WAIT_SECONDS) * 1000,
          nodeType: order === undefined ? 'async' : 'parallel',
        });
      }
      this.queues.send(queue, item);
      if (node.operator === undefined) this.emitWaiting?.(item);
    } else {
      void this.work(
        item,
        node.operator!,
        via === 'batch' ? 'gpu' : 'cpu',
        order === undefined ? 'async' : 'parallel',
        // Stopped when its attempt times out, so that a worker that hangs does not hold a process.
        Math.min(payload.timeoutSeconds, LOCAL_MAX_WAIT_SECONDS),
      );
    }
    return resumed;
  }

  /** Work item attempt -> when it times out, for the engine's own queue consumers. */
  private readonly queuedLimits = new Map<string, { deadline: number; nodeType: 'async' | 'parallel' }>();

  /** Set by `runTask` callers that want to hear about external work waiting for a callback. */
  emitWaiting?: (item: WorkItem) => void;

  private ensureQueueConsumer(queue: string, operator: string): void {
    if (this.consumedQueues.has(`${queue}#${operator}`)) return;
    this.consumedQueues.add(`${queue}#${operator}`);
    this.queues.consume(queue, (message) => {
      const item = JSON.parse(message.body) as WorkItem;
      const key = attemptKeyOf(item);
      const limit = this.queuedLimits.get(key);
      // A message this engine did not send for a parked attempt runs without a deadline.
      const seconds = limit ? Math.max(0, (limit.deadline - Date.now()) / 1000) : Number.POSITIVE_INFINITY;
      void this.work(item, operator, 'cpu', limit?.nodeType ?? 'async', seconds).finally(() =>
        this.queuedLimits.delete(key),
      );
    });
  }

  /** The worker side of async work: runs the operator, then answers through the callback path. */
  private async work(
    item: WorkItem,
    operator: string,
    resource: 'cpu' | 'gpu',
    nodeType: 'async' | 'parallel',
    timeoutSeconds = Number.POSITIVE_INFINITY,
  ): Promise<void> {
    const release = resource === 'gpu' ? await this.acquireGpu() : () => {};
    // A worker that outlives its engine has no one to answer: the attempt resumes as the next one.
    const answer = async (callback: Callback) => {
      if (!this.closed) await this.callback(callback);
    };
    try {
      const output = await this.runtime.run(
        {
          task: item.task,
          node: item.node.name,
          nodeType,
          order: item.segment?.order,
          attempt: item.attempt,
          input: item.input,
          resource,
          recordWork: false,
        },
        (event) => this.catalog.run(operator, event, timeoutSeconds * 1000),
      );
      await answer({ id: item.id, attempt: item.attempt, status: 'SUCCEEDED', output: output as never });
    } catch (error) {
      await answer({ id: item.id, attempt: item.attempt, status: 'FAILED', error: errorInfo(error) }).catch(
        () => {},
      );
    } finally {
      release();
    }
  }

  private async acquireGpu(): Promise<() => void> {
    const slots = this.options.gpuSlots ?? 1;
    if (this.gpuInUse >= slots) await new Promise<void>((resolve) => this.gpuWaiting.push(resolve));
    this.gpuInUse++;
    return () => {
      this.gpuInUse--;
      this.gpuWaiting.shift()?.();
    };
  }

  private async sendCallback(input: CallbackInput): Promise<unknown> {
    if ('Entries' in input) {
      for (const entry of input.Entries)
        this.bus.put({
          source: entry.Source,
          detailType: entry.DetailType,
          detail: entry.Detail,
          bus: entry.EventBusName,
        });
      return { Entries: input.Entries.map(() => ({ EventId: randomUUID() })) };
    }
    if ('QueueUrl' in input) {
      const message = this.queues.send(queueNameOfUrl(input.QueueUrl), input.MessageBody);
      return { MessageId: message.messageId };
    }
    return sendHttpCallback(input);
  }

  /** Records events of nodes that run no operator from the execution's event log; counts transitions. */
  private async followEventLog(
    events: AsyncGenerator<unknown>,
    prepared: Prepared,
    task: { id: string; workflow: string },
    itemTotals: Map<string, number>,
    progress: (event: ProgressEvent) => void,
    counter: { transitions: number },
    attemptOf: (node: string) => number,
  ): Promise<number> {
    const enteredAt = new Map<string, number>();
    const decidedBy = new Map<string, string[]>();
    for (const [router, target] of prepared.plan.decidedRouters)
      decidedBy.set(target, [...(decidedBy.get(target) ?? []), router]);
    const record = async (
      node: string,
      type: WorkflowNode['type'],
      status: 'SUCCEEDED' | 'FAILED',
      error?: { error: string; cause: string },
    ) => {
      await this.store.startEvent({ taskId: task.id, node, type, attempt: attemptOf(node) });
      await this.store.finishEvent({
        taskId: task.id,
        node,
        attempt: attemptOf(node),
        status,
        ...(error ? { error } : {}),
      });
    };
    // A state's failure is final only once it is not retried: StateFailed comes first, then
    // StateRetried, or StateCaught and a StateExited into the onError path, or nothing (it propagated).
    const failures = new Map<string, { node: string; error: { error: string; cause: string } }>();
    const caught = new Set<string>();
    const finishFailed = async (key: string) => {
      const failure = failures.get(key);
      failures.delete(key);
      if (failure)
        await this.store.finishEvent({
          taskId: task.id,
          node: failure.node,
          attempt: attemptOf(failure.node),
          status: 'FAILED',
          error: failure.error,
        });
    };
    // Tolerance check state -> its Map state and the parallel node they report on.
    const checks = new Map<
      string,
      { mapState: string; reported: { node: string; type: WorkflowNode['type'] } }
    >();
    for (const [mapState, check] of prepared.toleranceChecks) {
      const reported = prepared.reporting.get(mapState);
      if (reported) checks.set(check, { mapState, reported });
    }
    const start = prepared.plan.dag.start;
    if (![...prepared.reporting.values()].some((r) => r.node === start))
      await record(start, 'start', 'SUCCEEDED');
    for await (const raw of events) {
      const event = raw as {
        type: string;
        state?: { name: string; type: string; input?: unknown };
        index?: number;
        Error?: string;
        Cause?: unknown;
        timestamp: number;
      };
      if (!FOLLOWED_EVENTS.has(event.type)) continue;
      // A state standing in for a Distributed Map's ItemReader or ResultWriter is no transition on
      // AWS; its failure is the Map's.
      const owner = prepared.emulated.owners.get(event.state!.name);
      if (owner !== undefined && (event.type === 'StateEntered' || event.type === 'StateExited')) continue;
      const name = owner ?? event.state!.name;
      // Item states run once per item: their events are told apart by the item's index.
      const key = event.index === undefined ? name : `${name}#${event.index}`;
      if (event.type === 'StateRetried') {
        failures.delete(key);
        continue;
      }
      if (event.type === 'StateCaught') {
        caught.add(key);
        await finishFailed(key);
        continue;
      }
      if (event.type === 'StateEntered') {
        counter.transitions++;
        enteredAt.set(name, event.timestamp);
        for (const router of decidedBy.get(name) ?? []) await record(router, 'router', 'SUCCEEDED');
        if (event.state!.type === 'Map') itemTotals.set(name, itemCount(prepared, name, event.state!.input));
        const reported = prepared.reporting.get(name) ?? this.operatorNodeOf(prepared, name);
        if (reported)
          progress({ type: 'node-started', taskId: task.id, node: reported.node, nodeType: reported.type });
      }
      const reported = prepared.reporting.get(name);
      if (event.type === 'StateEntered' && reported) {
        await this.store.startEvent({
          taskId: task.id,
          node: reported.node,
          type: reported.type,
          attempt: attemptOf(reported.node),
        });
        if (reported.type === 'end' || reported.type === 'start')
          await this.store.finishEvent({
            taskId: task.id,
            node: reported.node,
            attempt: attemptOf(reported.node),
            status: 'SUCCEEDED',
          });
      }
      if (event.type === 'StateExited' && caught.delete(key)) continue; // into its onError path
      if (event.type === 'StateExited' || event.type === 'StateFailed') {
        const status = event.type === 'StateExited' ? 'SUCCEEDED' : 'FAILED';
        // The node this state's end ends: its own, or a tolerance check's parallel node; a Map that
        // has a check leaves its node's success to the check, which can still fail it.
        const check = checks.get(name);
        const ends =
          status === 'SUCCEEDED' && prepared.toleranceChecks.has(name)
            ? undefined
            : (check?.reported ?? reported);
        if (ends && ends.type !== 'end' && ends.type !== 'start') {
          if (status === 'SUCCEEDED')
            await this.store.finishEvent({
              taskId: task.id,
              node: ends.node,
              attempt: attemptOf(ends.node),
              status,
            });
          else
            failures.set(key, {
              node: ends.node,
              error: await explainFailure(this.store, task.id, {
                error: event.Error ?? 'States.TaskFailed',
                cause: String(event.Cause ?? ''),
              }),
            });
        }
        // An end node folded into this state ran when the state finished.
        const folded = prepared.foldedEnds.get(name);
        if (folded && status === 'SUCCEEDED') await record(folded, 'end', 'SUCCEEDED');
        const owner = ends ?? this.operatorNodeOf(prepared, name);
        const since = enteredAt.get(check?.mapState ?? name) ?? event.timestamp;
        if (owner)
          progress({
            type: 'node-finished',
            taskId: task.id,
            node: owner.node,
            status,
            ms: event.timestamp - since,
          });
      }
    }
    // Failures neither retried nor caught: they failed the execution (or their branch).
    for (const key of [...failures.keys()]) await finishFailed(key);
    return counter.transitions;
  }

  /**
   * For a redrive: the task's input, the outputs of work that succeeded (`reuse`), and the attempts
   * recorded so far (`attempts`; a node that did not succeed runs next with one more).
   */
  private async priorWork(
    taskId: string,
    attempts: Map<string, number>,
    reuse: Map<string, unknown>,
  ): Promise<TaskRecord> {
    const task = await this.store.getTask(taskId);
    if (!task) throw new TaskNotFoundError(taskId);
    const [events, segments] = await Promise.all([
      this.store.getEvents(taskId),
      this.store.getSegments(taskId),
    ]);
    for (const event of events) {
      const succeeded = event.status === 'SUCCEEDED';
      attempts.set(event.node, succeeded ? event.attempts : event.attempts + 1);
      // Attempts count up from here in the bindings; nodes that run no operator keep the number above.
      if (['sync', 'async', 'script', 'callback'].includes(event.type)) {
        attempts.set(event.node, event.attempts);
        if (succeeded) reuse.set(event.node, event.type === 'callback' ? {} : (event.output ?? null));
      }
    }
    for (const segment of segments) {
      const key = `${segment.node}#${segment.order}`;
      attempts.set(key, segment.attempts);
      if (segment.status === 'SUCCEEDED') reuse.set(key, segment.output ?? null);
    }
    return task;
  }

  private operatorNodeOf(
    prepared: Prepared,
    stateName: string,
  ): { node: string; type: WorkflowNode['type'] } | undefined {
    const node = prepared.plan.dag.nodes.get(stateName);
    return node && (node.type === 'sync' || node.type === 'async' || node.type === 'script')
      ? { node: stateName, type: node.type }
      : undefined;
  }

  private async result(
    taskId: string,
    workflow: string,
    status: TaskRecord['status'],
    output: unknown,
    error: { error: string; cause: string } | undefined,
    stats: { stateTransitions: number; durationMs: number },
  ): Promise<TaskResult> {
    const [events, segments, traces] = await Promise.all([
      this.store.getEvents(taskId),
      this.store.getSegments(taskId),
      this.store.getTraces(taskId),
    ]);
    return {
      taskId,
      workflow,
      status,
      ...(output === undefined ? {} : { output }),
      ...(error ? { error } : {}),
      events: events.map(eventView),
      segments: segments.map(segmentView),
      traces,
      stats,
    };
  }
}

interface TaskInput {
  readonly task: { id: string; workflow: string };
  readonly node: string;
  readonly segment?: { order: number };
  readonly input: unknown;
}

interface AsyncPayload extends TaskInput {
  readonly timeoutSeconds: number;
  readonly heartbeatSeconds?: number;
}

interface ScriptInput extends TaskInput {
  readonly language: 'jsonata' | 'javascript';
  readonly source: string;
  readonly timeoutMs: number;
  readonly context: unknown;
}

type CallbackInput =
  | { Entries: { EventBusName: string; Source: string; DetailType: string; Detail: unknown }[] }
  | { QueueUrl: string; MessageBody: unknown }
  | { url: string; method: string; body: unknown };

/** The event log entries `followEventLog` reads; map-iteration and parallel-branch events say nothing it needs. */
const FOLLOWED_EVENTS = new Set([
  'StateEntered',
  'StateExited',
  'StateFailed',
  'StateRetried',
  'StateCaught',
]);

/** How many items a Map state is about to run, read from its input at the node's `items` path. */
function itemCount(prepared: Prepared, mapState: string, input: unknown): number {
  const node = prepared.plan.dag.nodes.get(mapState);
  if (node?.type !== 'parallel') return -1;
  // Items staged in the object store: their stage said how many, where the Map's result will go.
  const staged = (input as { nodes?: Record<string, { count?: unknown } | undefined> } | null)?.nodes?.[
    mapState
  ];
  if (itemsStaged(prepared.plan, mapState)) return typeof staged?.count === 'number' ? staged.count : -1;
  const parsed = parseReference(node.items);
  if (!parsed.ok) return -1;
  let value: unknown = input;
  for (const segment of parsed.segments)
    value = (value as Record<string | number, unknown> | null)?.[segment];
  return Array.isArray(value) ? value.length : -1;
}

/** The item's order from a Map item Task's input: async work carries it inside the dispatch Payload. */
function itemOrderOf(input: unknown): number {
  const task = input as TaskInput & { Payload?: TaskInput };
  return (task.Payload ?? task).segment?.order ?? 0;
}

function aslErrorName(cause: { name?: string }): string {
  return cause.name ?? 'States.TaskFailed';
}

/**
 * A task's bindings around its end. While the execution runs, each operator attempt enters and says
 * when its start is recorded. Once the execution has ended nothing enters any more (a retry in a
 * branch the execution stopped starts no attempt), and `close` settles when the starts under way are
 * recorded, so that the work the task's end finishes (finishStoppedWork) includes them.
 */
class TaskGate {
  private open = true;
  private readonly starting = new Set<Promise<void>>();

  get isOpen(): boolean {
    return this.open;
  }

  /**
   * Undefined once closed; else the call that says the start is recorded (any number of times), which
   * answers whether the task still runs.
   */
  enter(): (() => boolean) | undefined {
    if (!this.open) return undefined;
    let recorded!: () => void;
    const start = new Promise<void>((resolve) => {
      recorded = resolve;
    });
    this.starting.add(start);
    return () => {
      this.starting.delete(start);
      recorded();
      return this.open;
    };
  }

  /** Lets nothing enter; settles once every start under way is recorded. */
  async close(): Promise<void> {
    this.open = false;
    await Promise.all(this.starting);
  }
}

/** What a binding of a task that has ended returns: nothing awaits it any more. */
function stopped(): Promise<never> {
  return new Promise(() => {});
}

function attemptKeyOf(item: { readonly id: string; readonly attempt: number }): string {
  return `${item.id}#${item.attempt}`;
}
