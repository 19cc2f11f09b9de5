// The AWS side of handing out async work: an asynchronous Invoke of the operator's worker Lambda, an
// SQS message on a work queue, or a Batch job on the GPU queue.
import { type BatchClient, SubmitJobCommand } from '@aws-sdk/client-batch';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { ENV } from '../config/env.js';
import type { WorkItem } from '../runtime/work-item.js';
import type { WorkHandOut } from './dispatch-service.js';

export class UnknownWorkTargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnknownWorkTargetError';
  }
}

export interface AwsWorkHandOutOptions {
  readonly lambda: LambdaClient;
  readonly sqs: SQSClient;
  readonly batch: BatchClient;
  /** operator -> worker function name. */
  readonly workers: Readonly<Record<string, string>>;
  /** queue name -> URL. */
  readonly queues: Readonly<Record<string, string>>;
  readonly batchJobQueueArn: string;
  readonly batchJobDefinitionArn: string;
}

export class AwsWorkHandOut implements WorkHandOut {
  constructor(private readonly options: AwsWorkHandOutOptions) {}

  async toLambda(operator: string, item: WorkItem): Promise<void> {
    const functionName = this.options.workers[operator];
    if (functionName === undefined)
      throw new UnknownWorkTargetError(`Operator '${operator}' has no worker Lambda in this deployment.`);
    await this.options.lambda.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: 'Event',
        Payload: Buffer.from(JSON.stringify(item)),
      }),
    );
  }

  async toQueue(queue: string, item: WorkItem): Promise<void> {
    const queueUrl = this.options.queues[queue];
    if (queueUrl === undefined)
      throw new UnknownWorkTargetError(`Queue '${queue}' is not one of this deployment's work queues.`);
    await this.options.sqs.send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(item) }),
    );
  }

  async toBatch(operator: string, item: WorkItem): Promise<void> {
    await this.options.batch.send(
      new SubmitJobCommand({
        jobName: batchJobName(item),
        jobQueue: this.options.batchJobQueueArn,
        jobDefinition: this.options.batchJobDefinitionArn,
        containerOverrides: {
          environment: [
            { name: ENV.OPERATOR, value: operator },
            { name: ENV.WORK_ITEM, value: JSON.stringify(item) },
          ],
        },
      }),
    );
  }
}

/** Batch job names: up to 128 letters, digits, - and _. */
export function batchJobName(item: WorkItem): string {
  return `${item.id}-a${item.attempt}`.replace(/[^A-Za-z0-9_-]/g, '-').slice(-128);
}
