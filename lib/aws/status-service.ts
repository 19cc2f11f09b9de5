// The status Lambda: Step Functions reports each execution status change on EventBridge; this records
// it on the task and, when the execution has ended, records the events of the nodes that run no
// operator code (start, router, end, callback, parallel) from the execution history, through the
// reporting map kept at registration (lib/runtime/reporting.ts) — as the embedded engine does from its
// event log.
import { DescribeExecutionCommand, GetExecutionHistoryCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { explainFailure } from '../runtime/payload-reference.js';
import { type ReportingPlan, startHasState } from '../runtime/reporting.js';
import { finishStoppedWork, stoppedWorkError } from '../runtime/stopped-work.js';
import type { ErrorInfo, TaskRecord, TaskStatus } from '../tracking/records.js';
import { StaleWriteError, type TrackingStore } from '../tracking/store.js';
import type { DynamoWorkflowDeployments } from './workflow-deployments.js';

/** The `detail` of a "Step Functions Execution Status Change" event. */
export interface ExecutionStatusDetail {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  /** The execution name: the task id. */
  readonly name: string;
  readonly status: string;
  readonly output?: string | null;
  readonly outputDetails?: { readonly included?: boolean };
  readonly error?: string | null;
  readonly cause?: string | null;
  readonly redriveCount?: number;
}

/** One history event, reduced to what the reporting needs. */
export interface HistoryEvent {
  readonly id: number;
  readonly previousEventId?: number;
  readonly type: string;
  readonly timestamp: Date;
  /** For `*StateEntered` and `*StateExited`. */
  readonly stateName?: string;
  /** For failures: `taskFailedEventDetails`, `executionFailedEventDetails`, ... */
  readonly error?: ErrorInfo;
}

export interface ExecutionReader {
  history(executionArn: string): AsyncIterable<HistoryEvent>;
  /** The output when the event did not carry it (over EventBridge's size). */
  output(executionArn: string): Promise<string | undefined>;
}

export type StatusOutcome =
  | 'recorded'
  | 'duplicate'
  /** Not a task of this engine (e.g. a Distributed Map's child execution). */
  | 'unknown-task'
  /** The task had moved on (e.g. aborted through the API before Step Functions said FAILED). */
  | 'stale'
  | 'ignored';

const FINAL: Readonly<Record<string, Exclude<TaskStatus, 'RUNNING'>>> = {
  SUCCEEDED: 'SUCCEEDED',
  FAILED: 'FAILED',
  TIMED_OUT: 'TIMED_OUT',
  ABORTED: 'ABORTED',
};

export interface StatusServiceDeps {
  readonly store: TrackingStore;
  readonly deployments: DynamoWorkflowDeployments;
  readonly executions: ExecutionReader;
}

export async function recordExecutionStatus(
  detail: ExecutionStatusDetail,
  deps: StatusServiceDeps,
): Promise<StatusOutcome> {
  const task = await deps.store.getTask(detail.name);
  if (!task) return 'unknown-task';
  if (detail.status === 'RUNNING') return recordRunning(task, detail, deps.store);
  const status = FINAL[detail.status];
  if (status === undefined) return 'ignored';

  // A path into an offloaded output failed: say so, from the outputs recorded before the end.
  const failure = await explainFailure(deps.store, task.taskId, executionError(detail, status));
  // Events before the task's status: whoever sees the task ended sees its events too.
  const deployed = await deps.deployments.get(task.workflow, task.version);
  let stateTransitions: number | undefined;
  if (deployed?.deployment) {
    stateTransitions = await recordNodeEvents(
      task.taskId,
      deployed.deployment.reporting,
      deps.executions.history(detail.executionArn),
      failure,
      deps.store,
      stoppedWorkError(status),
    );
  }
  // Work the execution stopped (other branches of a failed fork, async work waiting there) ends too.
  await finishStoppedWork(deps.store, task.taskId, status);
  const output = status === 'SUCCEEDED' ? await outputOf(detail, deps.executions) : undefined;
  const error = status === 'SUCCEEDED' ? undefined : failure;
  try {
    const result = await deps.store.updateTaskStatus({
      taskId: task.taskId,
      status,
      executionArn: detail.executionArn,
      ...(output === undefined ? {} : { output }),
      ...(error === undefined ? {} : { error }),
      ...(stateTransitions === undefined ? {} : { stateTransitions }),
    });
    return result.applied ? 'recorded' : 'duplicate';
  } catch (error) {
    if (error instanceof StaleWriteError) return 'stale';
    throw error;
  }
}

async function recordRunning(
  task: TaskRecord,
  detail: ExecutionStatusDetail,
  store: TrackingStore,
): Promise<StatusOutcome> {
  // A redrive started elsewhere (console, CLI) than POST /tasks/{id}/redrive: the task runs again.
  if (task.status !== 'RUNNING' && (detail.redriveCount ?? 0) > (task.redriveCount ?? 0)) {
    try {
      await store.redriveTask({ taskId: task.taskId });
    } catch (error) {
      if (!(error instanceof StaleWriteError)) throw error;
    }
  }
  try {
    const result = await store.updateTaskStatus({
      taskId: task.taskId,
      status: 'RUNNING',
      executionArn: detail.executionArn,
    });
    return result.applied ? 'recorded' : 'duplicate';
  } catch (error) {
    if (error instanceof StaleWriteError) return 'stale';
    throw error;
  }
}

function executionError(detail: ExecutionStatusDetail, status: TaskStatus): ErrorInfo {
  if (detail.error) return { error: detail.error, cause: detail.cause ?? '' };
  if (status === 'TIMED_OUT')
    return { error: 'States.Timeout', cause: 'The task ran longer than the workflow timeout.' };
  if (status === 'ABORTED') return { error: 'Aborted', cause: 'The execution was stopped.' };
  return { error: 'States.Runtime', cause: detail.cause ?? '' };
}

async function outputOf(detail: ExecutionStatusDetail, executions: ExecutionReader): Promise<unknown> {
  const text =
    typeof detail.output === 'string' && detail.outputDetails?.included !== false
      ? detail.output
      : await executions.output(detail.executionArn);
  return text === undefined ? undefined : JSON.parse(text);
}

/**
 * Walks the history once. Entering a reporting state starts its event (start and end nodes finish at
 * once), exiting it finishes it SUCCEEDED, or FAILED when the exit follows a failure (an `onError`
 * caught it); a state still open when the history ends failed (the execution failed there, or was
 * stopped: aborted with its branch, `stoppedBy`, or with the execution). Each redrive numbers a new attempt, so an event that failed before a redrive can succeed
 * after it.
 */
export async function recordNodeEvents(
  taskId: string,
  reporting: ReportingPlan,
  history: AsyncIterable<HistoryEvent>,
  executionFailure: ErrorInfo,
  store: TrackingStore,
  stoppedBy: ErrorInfo = stoppedWorkError('FAILED'),
): Promise<number> {
  let transitions = 0;
  const explained = (error: ErrorInfo) => explainFailure(store, taskId, error);
  const byId = new Map<number, HistoryEvent>();
  const open = new Map<
    string,
    { node: string; attempt: number; enteredId: number; error?: ErrorInfo; stopped?: boolean }
  >();
  let attempt = 1;
  let lastTimestamp = new Date();
  const write = async (action: () => Promise<unknown>) => {
    try {
      await action();
    } catch (error) {
      // A duplicate status event, or a later run already recorded this node: history is replayed.
      if (!(error instanceof StaleWriteError)) throw error;
    }
  };
  const ran = async (node: string, type: 'start' | 'router' | 'end', now: Date) => {
    await write(() => store.startEvent({ taskId, node, type, attempt, now }));
    await write(() => store.finishEvent({ taskId, node, attempt, status: 'SUCCEEDED', now }));
  };

  for await (const event of history) {
    byId.set(event.id, event);
    lastTimestamp = event.timestamp;
    const now = event.timestamp;
    if (event.type === 'ExecutionStarted' && !startHasState(reporting))
      await ran(reporting.start, 'start', now);
    if (event.type === 'ExecutionRedriven') attempt++;
    if (event.error !== undefined) {
      const state = enteredStateOf(event, byId);
      const entry = state === undefined ? undefined : open.get(state);
      if (entry) entry.error = await explained(event.error);
    }
    // A branch beside it failed (or the execution was stopped): Step Functions aborted the state.
    if (event.type.endsWith('StateAborted'))
      for (const entry of open.values()) if (descendsFrom(event, entry.enteredId, byId)) entry.stopped = true;
    const name = event.stateName;
    if (name === undefined) continue;
    if (event.type.endsWith('StateEntered')) {
      transitions++;
      for (const router of reporting.decidedRouters[name] ?? []) await ran(router, 'router', now);
      const reported = reporting.states[name];
      if (!reported) continue;
      await write(() => store.startEvent({ taskId, node: reported.node, type: reported.type, attempt, now }));
      if (reported.type === 'start' || reported.type === 'end')
        await write(() =>
          store.finishEvent({ taskId, node: reported.node, attempt, status: 'SUCCEEDED', now }),
        );
      else open.set(name, { node: reported.node, attempt, enteredId: event.id });
    } else if (event.type.endsWith('StateExited')) {
      // A state whose failure an onError caught exits right after the failure, into its Catch.
      const failure = failureBefore(event, byId);
      const entry = open.get(name);
      const check = reporting.toleranceChecks?.[name];
      if (entry && check !== undefined && !failure) {
        // The parallel node ends with its tolerance check, which can still fail it.
        open.delete(name);
        open.set(check, entry);
      } else if (entry) {
        open.delete(name);
        await write(() =>
          store.finishEvent({
            taskId,
            node: entry.node,
            attempt: entry.attempt,
            now,
            ...(failure
              ? { status: 'FAILED', error: entry.error ?? failure.error ?? caughtWithoutDetails(entry.node) }
              : { status: 'SUCCEEDED' }),
          }),
        );
      }
      // An end node folded into this state ran when the state finished.
      const folded = reporting.foldedEnds?.[name];
      if (folded !== undefined && !failure) await ran(folded, 'end', now);
    }
  }
  for (const entry of open.values()) {
    const error = entry.error ?? (entry.stopped ? stoppedBy : executionFailure);
    await write(() =>
      store.finishEvent({
        taskId,
        node: entry.node,
        attempt: entry.attempt,
        status: 'FAILED',
        error,
        now: lastTimestamp,
      }),
    );
  }
  return transitions;
}

/**
 * The failure a `*StateExited` follows, if it follows one: Step Functions links the exit to the
 * state's last event, a `TaskSucceeded` or a `MapStateSucceeded` unless a Catch took a failure.
 */
function failureBefore(
  exited: HistoryEvent,
  byId: ReadonlyMap<number, HistoryEvent>,
): { error?: ErrorInfo } | undefined {
  const previous = exited.previousEventId === undefined ? undefined : byId.get(exited.previousEventId);
  if (!previous || !/(Failed|TimedOut)$/.test(previous.type)) return undefined;
  return previous.error === undefined ? {} : { error: previous.error };
}

/** A `MapStateFailed` carries no error; the Catch put it in the execution's data, which is not read. */
function caughtWithoutDetails(node: string): ErrorInfo {
  return {
    error: 'States.TaskFailed',
    cause: `'${node}' failed and its onError path ran; the error is at $.errors.${node} of the execution.`,
  };
}

/**
 * Whether the event comes after the state entered at `enteredId`, inside it: its `previousEventId`
 * chain leads there (through a Map's iterations or a Parallel's branches, which a walk to the first
 * `*StateEntered` would stop in).
 */
function descendsFrom(
  event: HistoryEvent,
  enteredId: number,
  byId: ReadonlyMap<number, HistoryEvent>,
): boolean {
  let current: HistoryEvent | undefined = event;
  for (let hops = 0; current && hops < 1000; hops++) {
    if (current.id === enteredId) return true;
    if (current.id < enteredId) return false;
    current = current.previousEventId === undefined ? undefined : byId.get(current.previousEventId);
  }
  return false;
}

/** The state a failure belongs to: follow `previousEventId` back to the `*StateEntered`. */
function enteredStateOf(event: HistoryEvent, byId: ReadonlyMap<number, HistoryEvent>): string | undefined {
  let current: HistoryEvent | undefined = event;
  for (let hops = 0; current && hops < 50; hops++) {
    if (current.type.endsWith('StateEntered')) return current.stateName;
    current = current.previousEventId === undefined ? undefined : byId.get(current.previousEventId);
  }
  return undefined;
}

export class SfnExecutionReader implements ExecutionReader {
  constructor(private readonly sfn: SFNClient) {}

  async *history(executionArn: string): AsyncIterable<HistoryEvent> {
    let nextToken: string | undefined;
    do {
      const page = await this.sfn.send(
        new GetExecutionHistoryCommand({
          executionArn,
          maxResults: 1000,
          includeExecutionData: false,
          ...(nextToken ? { nextToken } : {}),
        }),
      );
      for (const event of page.events ?? []) yield toHistoryEvent(event as unknown as RawHistoryEvent);
      nextToken = page.nextToken;
    } while (nextToken);
  }

  async output(executionArn: string): Promise<string | undefined> {
    const described = await this.sfn.send(new DescribeExecutionCommand({ executionArn }));
    return described.output;
  }
}

type RawHistoryEvent = Record<string, unknown> & {
  id: number;
  previousEventId?: number;
  type: string;
  timestamp: Date;
};

/** Every `*EventDetails` of a history event; failures carry `error` and `cause` in theirs. */
function toHistoryEvent(raw: RawHistoryEvent): HistoryEvent {
  let stateName: string | undefined;
  let error: ErrorInfo | undefined;
  for (const [key, value] of Object.entries(raw)) {
    if (!key.endsWith('EventDetails') || value === null || typeof value !== 'object') continue;
    const details = value as { name?: unknown; error?: unknown; cause?: unknown };
    if (
      (key === 'stateEnteredEventDetails' || key === 'stateExitedEventDetails') &&
      typeof details.name === 'string'
    )
      stateName = details.name;
    if (typeof details.error === 'string')
      error = { error: details.error, cause: typeof details.cause === 'string' ? details.cause : '' };
  }
  return {
    id: raw.id,
    ...(raw.previousEventId === undefined ? {} : { previousEventId: raw.previousEventId }),
    type: raw.type,
    timestamp: raw.timestamp,
    ...(stateName === undefined ? {} : { stateName }),
    ...(error === undefined ? {} : { error }),
  };
}
