// A TrackingStore that keeps nothing: runs the embedded engine with tracking switched off, so the
// benchmark can tell what tracking (dynalite) costs from what the engine itself costs. Writes answer
// with a record built from their input, reads answer empty; it is never meant for the callback path.
import { eventIdOf, segmentIdOf } from '../lib/tracking/ids.js';
import type { PublicEventRecord, PublicSegmentRecord, TaskRecord } from '../lib/tracking/records.js';
import type {
  ClaimedWork,
  ClaimWorkInput,
  CreateTaskInput,
  CreateTaskResult,
  ExpiredWork,
  ExpireWorkInput,
  FinishEventInput,
  FinishSegmentInput,
  HeartbeatedWork,
  ParkWorkInput,
  ReleaseWorkInput,
  StartEventInput,
  StartSegmentInput,
  TaskPage,
  TrackingStore,
  UpdateTaskStatusInput,
  WriteResult,
} from '../lib/tracking/store.js';
import { TaskNotFoundError, WorkNotFoundError } from '../lib/tracking/store.js';

export class NullTrackingStore implements TrackingStore {
  async createTask(input: CreateTaskInput): Promise<CreateTaskResult> {
    const now = stamp(input.now);
    return {
      created: true,
      task: {
        taskId: input.taskId,
        workflow: input.workflow,
        status: 'RUNNING',
        input: input.input,
        createdAt: now,
        updatedAt: now,
      },
    };
  }

  async updateTaskStatus(input: UpdateTaskStatusInput): Promise<WriteResult<TaskRecord>> {
    const now = stamp(input.now);
    return {
      applied: true,
      record: {
        taskId: input.taskId,
        workflow: '',
        status: input.status,
        input: null,
        createdAt: now,
        updatedAt: now,
      },
    };
  }

  async redriveTask(input: { taskId: string }): Promise<TaskRecord> {
    throw new TaskNotFoundError(input.taskId);
  }

  async getTask(): Promise<TaskRecord | undefined> {
    return undefined;
  }

  async listTasks(): Promise<TaskPage> {
    return { tasks: [] };
  }

  async startEvent(input: StartEventInput): Promise<WriteResult<PublicEventRecord>> {
    return { applied: true, record: eventRecord(input, 'RUNNING') };
  }

  async finishEvent(input: FinishEventInput): Promise<WriteResult<PublicEventRecord>> {
    return { applied: true, record: eventRecord({ ...input, type: 'sync' }, input.status) };
  }

  async startSegment(input: StartSegmentInput): Promise<WriteResult<PublicSegmentRecord>> {
    return { applied: true, record: segmentRecord(input, 'RUNNING') };
  }

  async finishSegment(input: FinishSegmentInput): Promise<WriteResult<PublicSegmentRecord>> {
    return { applied: true, record: segmentRecord(input, input.status) };
  }

  async getWork(): Promise<undefined> {
    return undefined;
  }

  async getEvents(): Promise<PublicEventRecord[]> {
    return [];
  }

  async getSegments(): Promise<PublicSegmentRecord[]> {
    return [];
  }

  async recordTrace(): Promise<void> {}

  async recordTraces(): Promise<void> {}

  async getTraces(): Promise<[]> {
    return [];
  }

  async parkWork(input: ParkWorkInput): Promise<PublicEventRecord | PublicSegmentRecord> {
    return eventRecord(
      { taskId: input.taskId, node: input.workId, type: 'async', attempt: input.attempt },
      'WAITING',
    );
  }

  // Nothing was parked, so there is nothing to claim: async nodes cannot run against this store.
  async claimWork(input: ClaimWorkInput): Promise<ClaimedWork> {
    throw new WorkNotFoundError(input.workId);
  }

  async releaseWork(_input: ReleaseWorkInput): Promise<void> {}

  async heartbeatWork(input: ClaimWorkInput): Promise<HeartbeatedWork> {
    throw new WorkNotFoundError(input.workId);
  }

  async expireWork(_input: ExpireWorkInput): Promise<ExpiredWork> {
    return { outcome: 'gone' };
  }
}

function stamp(now?: Date): string {
  return (now ?? new Date()).toISOString();
}

function eventRecord(input: StartEventInput, status: PublicEventRecord['status']): PublicEventRecord {
  const now = stamp(input.now);
  return {
    eventId: eventIdOf(input.taskId, input.node),
    taskId: input.taskId,
    node: input.node,
    type: input.type,
    status,
    attempts: input.attempt,
    startedAt: now,
    updatedAt: now,
  };
}

function segmentRecord(input: StartSegmentInput, status: PublicSegmentRecord['status']): PublicSegmentRecord {
  const now = stamp(input.now);
  const eventId = eventIdOf(input.taskId, input.node);
  return {
    segmentId: segmentIdOf(eventId, input.order),
    eventId,
    taskId: input.taskId,
    node: input.node,
    order: input.order,
    status,
    attempts: input.attempt,
    startedAt: now,
    updatedAt: now,
  };
}
