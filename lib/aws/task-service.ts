// Tasks on AWS: submit (dag-spec §9: input checked against the workflow's schema, Idempotency-Key),
// abort and redrive. A task is a Step Functions execution named by the task id, started on the exact
// state machine version whose input schema the input was checked against.
import {
  RedriveExecutionCommand,
  type SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { InputProblem, TaskInputChecker } from '../runtime/task-input.js';
import { newTaskId } from '../tracking/ids.js';
import { isFinalTaskStatus, type TaskRecord } from '../tracking/records.js';
import { StaleWriteError, TaskNotFoundError, type TrackingStore } from '../tracking/store.js';
import { errorName } from './sdk-errors.js';
import type { DeployedWorkflow, DynamoWorkflowDeployments } from './workflow-deployments.js';

/** Step Functions' limit on an execution's input. */
export const MAX_EXECUTION_INPUT_BYTES = 256 * 1024;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

export class WorkflowNotFoundError extends Error {
  constructor(readonly workflow: string) {
    super(`No workflow '${workflow}': register it with POST /workflows.`);
    this.name = 'WorkflowNotFoundError';
  }
}

/** Registered, but its state machine was never published (the registration failed half-way). */
export class WorkflowNotDeployedError extends Error {
  constructor(
    readonly workflow: string,
    readonly version: number,
  ) {
    super(`Workflow '${workflow}' version ${version} has no state machine: register it again.`);
    this.name = 'WorkflowNotDeployedError';
  }
}

export class InvalidTaskInputError extends Error {
  readonly path: string;
  constructor(problem: InputProblem) {
    super(problem.message);
    this.name = 'InvalidTaskInputError';
    this.path = problem.path;
  }
}

export class TaskInputTooLargeError extends Error {
  constructor(readonly bytes: number) {
    super(
      `The task context is ${bytes} bytes, over Step Functions' ${MAX_EXECUTION_INPUT_BYTES}-byte input limit. Put large inputs in S3 and pass their URI.`,
    );
    this.name = 'TaskInputTooLargeError';
  }
}

export class InvalidIdempotencyKeyError extends Error {
  constructor() {
    super(`Idempotency-Key takes 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters.`);
    this.name = 'InvalidIdempotencyKeyError';
  }
}

/** Abort of a task that has ended, redrive of one that has not failed: 409. */
export class TaskStateConflictError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TaskStateConflictError';
  }
}

export interface TaskServiceDeps {
  readonly store: TrackingStore;
  readonly deployments: DynamoWorkflowDeployments;
  readonly sfn: SFNClient;
  readonly inputs: TaskInputChecker;
}

export interface SubmitInput {
  readonly workflow: string;
  readonly input: unknown;
  readonly idempotencyKey?: string;
}

/**
 * Creates the task (once per idempotency key) and starts its execution. The idempotency key is the
 * tracking store's (a conditional row per key, 24 h): the task row exists before the execution, so a
 * retry after a crash in between finds the task and starts the same execution name, which Step
 * Functions answers idempotently.
 */
export async function submitTask(
  request: SubmitInput,
  deps: TaskServiceDeps,
): Promise<{ taskId: string; created: boolean }> {
  const key = request.idempotencyKey;
  if (key !== undefined && (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH))
    throw new InvalidIdempotencyKeyError();
  const deployed = await deps.deployments.get(request.workflow);
  if (!deployed) throw new WorkflowNotFoundError(request.workflow);
  const { record, deployment } = requireDeployment(deployed);
  const problem = deps.inputs.checkFor(
    `${record.name}@${record.version}`,
    deployment.inputSchema,
  )(request.input);
  if (problem) throw new InvalidTaskInputError(problem);
  const context = executionInput('pending', record.name, request.input, deployment.params);
  const bytes = Buffer.byteLength(context) + 64; // the real task id is longer than 'pending'
  if (bytes > MAX_EXECUTION_INPUT_BYTES) throw new TaskInputTooLargeError(bytes);

  const { task, created } = await deps.store.createTask({
    taskId: newTaskId(),
    workflow: record.name,
    version: record.version,
    input: request.input,
    engine: 'stepfunctions',
    ...(key === undefined ? {} : { idempotencyKey: key }),
  });
  // An existing task runs the version it was created with, not the newest.
  const runs = task.version === record.version ? deployment : await deploymentOf(task, deps);
  await startExecution(task, runs.versionArn, runs.params, deps);
  return { taskId: task.taskId, created };
}

/** Stops the execution; the task is ABORTED at once (the status Lambda then sees a duplicate). */
export async function abortTask(taskId: string, deps: TaskServiceDeps): Promise<TaskRecord> {
  const task = await deps.store.getTask(taskId);
  if (!task) throw new TaskNotFoundError(taskId);
  if (isFinalTaskStatus(task.status))
    throw new TaskStateConflictError(`Task '${taskId}' has already ended ${task.status}.`);
  if (task.executionArn !== undefined) {
    try {
      await deps.sfn.send(
        new StopExecutionCommand({
          executionArn: task.executionArn,
          error: 'Aborted',
          cause: 'Aborted through POST /tasks/{taskId}/abort.',
        }),
      );
    } catch (error) {
      if (errorName(error) !== 'ExecutionDoesNotExist') throw error;
    }
  }
  try {
    return (await deps.store.updateTaskStatus({ taskId, status: 'ABORTED' })).record;
  } catch (error) {
    if (error instanceof StaleWriteError)
      throw new TaskStateConflictError(`Task '${taskId}' ended before it could be aborted.`, {
        cause: error,
      });
    throw error;
  }
}

/** Re-runs a FAILED, TIMED_OUT or ABORTED task from where it failed (Step Functions redrive). */
export async function redriveTask(taskId: string, deps: TaskServiceDeps): Promise<TaskRecord> {
  const task = await deps.store.getTask(taskId);
  if (!task) throw new TaskNotFoundError(taskId);
  if (task.status === 'RUNNING' || task.status === 'SUCCEEDED')
    throw new TaskStateConflictError(
      `Task '${taskId}' is ${task.status}: only a task that failed is redriven.`,
    );
  if (task.executionArn === undefined)
    throw new TaskStateConflictError(`Task '${taskId}' never started an execution: submit it again.`);
  try {
    await deps.sfn.send(
      new RedriveExecutionCommand({ executionArn: task.executionArn, clientToken: taskId }),
    );
  } catch (error) {
    if (errorName(error) === 'ExecutionNotRedrivable' || errorName(error) === 'ExecutionLimitExceeded')
      throw new TaskStateConflictError(`Task '${taskId}' cannot be redriven: ${(error as Error).message}`, {
        cause: error,
      });
    throw error;
  }
  try {
    return await deps.store.redriveTask({ taskId });
  } catch (error) {
    if (error instanceof StaleWriteError)
      throw new TaskStateConflictError(`Task '${taskId}' changed while it was redriven.`, { cause: error });
    throw error;
  }
}

/** The execution context of dag-spec §3 at the start of a task. */
export function executionInput(
  taskId: string,
  workflow: string,
  input: unknown,
  params: Readonly<Record<string, unknown>>,
): string {
  return JSON.stringify({ task: { id: taskId, workflow }, input, params, nodes: {}, errors: {} });
}

async function startExecution(
  task: TaskRecord,
  versionArn: string,
  params: Readonly<Record<string, unknown>>,
  deps: TaskServiceDeps,
): Promise<void> {
  let executionArn: string | undefined;
  try {
    const started = await deps.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: versionArn,
        name: task.taskId,
        input: executionInput(task.taskId, task.workflow, task.input, params),
      }),
    );
    executionArn = started.executionArn;
  } catch (error) {
    // The same name with another input; with the same input Step Functions answers idempotently.
    // Either way this task's execution exists: the status Lambda records its ARN.
    if (errorName(error) !== 'ExecutionAlreadyExists') throw error;
  }
  if (executionArn === undefined || task.status !== 'RUNNING') return;
  try {
    await deps.store.updateTaskStatus({ taskId: task.taskId, status: 'RUNNING', executionArn });
  } catch (error) {
    // The execution ended (and the status Lambda recorded it) before this write: nothing to add.
    if (!(error instanceof StaleWriteError)) throw error;
  }
}

function requireDeployment(deployed: DeployedWorkflow): Required<DeployedWorkflow> {
  if (!deployed.deployment) throw new WorkflowNotDeployedError(deployed.record.name, deployed.record.version);
  return deployed as Required<DeployedWorkflow>;
}

async function deploymentOf(task: TaskRecord, deps: TaskServiceDeps) {
  const deployed = await deps.deployments.get(task.workflow, task.version);
  if (!deployed) throw new WorkflowNotFoundError(task.workflow);
  return requireDeployment(deployed).deployment;
}
