// The compiler Lambda over mocked DynamoDB and Step Functions: registration compiles against the
// deployment's real ARNs, refuses what the deployment lacks, creates or updates the machine, publishes
// a version and points the alias at it; `onDeploy` registers the shipped workflows.
import {
  CreateStateMachineAliasCommand,
  CreateStateMachineCommand,
  DescribeStateMachineAliasCommand,
  SFNClient,
  UpdateStateMachineAliasCommand,
  UpdateStateMachineCommand,
} from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { apiEvent, bodyOf, PREFIX, sdkError, stubHandlerEnv, TABLES } from './handlers-support.js';

const sfn = mockClient(SFNClient);
const db = mockClient(DynamoDBDocumentClient);
let compiler: typeof import('../../functions/compiler/handler.js');

const MACHINE = `arn:aws:states:eu-west-1:123456789012:stateMachine:${PREFIX}-echo`;
const ECHO = `name: echo
input: { type: object, required: [source] }
nodes:
  begin: { type: start, next: work }
  work: { type: sync, operator: test/echo, next: done }
  done: { type: end }
`;

beforeAll(async () => {
  stubHandlerEnv();
  compiler = await import('../../functions/compiler/handler.js');
});
afterEach(() => {
  sfn.reset();
  db.reset();
});
afterAll(() => {
  vi.unstubAllEnvs();
});

const post = (source: string) =>
  compiler.handler(
    apiEvent('POST', '/workflows', { body: source, headers: { 'Content-Type': 'application/yaml' } }),
  );

function firstRegistration() {
  db.on(QueryCommand, { TableName: TABLES.workflows }).resolves({ Items: [] });
  db.on(PutCommand, { TableName: TABLES.workflows }).resolves({});
  db.on(UpdateCommand, { TableName: TABLES.workflows }).resolves({});
  sfn.on(UpdateStateMachineCommand).rejects(sdkError('StateMachineDoesNotExist'));
  sfn
    .on(CreateStateMachineCommand)
    .resolves({ stateMachineArn: MACHINE, stateMachineVersionArn: `${MACHINE}:1`, creationDate: new Date() });
  sfn.on(DescribeStateMachineAliasCommand).rejects(sdkError('ResourceNotFound'));
  sfn
    .on(CreateStateMachineAliasCommand)
    .resolves({ stateMachineAliasArn: `${MACHINE}:live`, creationDate: new Date() });
}

describe('POST /workflows', () => {
  it('compiles against the real functions, creates the machine, publishes v1 and the live alias: 201', async () => {
    firstRegistration();
    const result = await post(ECHO);
    expect(result.statusCode).toBe(201);
    expect(bodyOf(result)).toEqual({ name: 'echo', version: 1 });

    const create = sfn.commandCalls(CreateStateMachineCommand)[0]!.args[0].input;
    expect(create).toMatchObject({
      name: `${PREFIX}-echo`,
      type: 'STANDARD',
      publish: true,
      versionDescription: 'v1',
      roleArn: 'arn:aws:iam::123456789012:role/machines',
      loggingConfiguration: { level: 'ERROR', includeExecutionData: false },
    });
    const definition = JSON.parse(create.definition!) as { States: Record<string, { Resource?: string }> };
    expect(definition.States.work?.Resource).toBe('arn:aws:lambda:eu-west-1:123456789012:function:fn-echo');
    expect(sfn.commandCalls(CreateStateMachineAliasCommand)[0]!.args[0].input).toEqual({
      name: 'live',
      routingConfiguration: [{ stateMachineVersionArn: `${MACHINE}:1`, weight: 100 }],
    });
    const attached = db.commandCalls(UpdateCommand, { TableName: TABLES.workflows })[0]!.args[0].input;
    expect(attached.Key).toEqual({ name: 'echo', version: 1 });
    const stored = JSON.parse(attached.ExpressionAttributeValues![':deployment'] as string);
    expect(stored).toMatchObject({ versionArn: `${MACHINE}:1`, inputSchema: { required: ['source'] } });
    expect(stored.reporting.start).toBe('begin');
  });

  it('publishes the next version of an existing machine and moves the alias', async () => {
    db.on(QueryCommand, { TableName: TABLES.workflows }).resolves({
      Items: [{ name: 'echo', version: 4, source: 'old', createdAt: 'x' }],
    });
    db.on(PutCommand).resolves({});
    db.on(UpdateCommand).resolves({});
    sfn
      .on(UpdateStateMachineCommand)
      .resolves({ updateDate: new Date(), stateMachineVersionArn: `${MACHINE}:5` });
    sfn.on(DescribeStateMachineAliasCommand).resolves({ stateMachineAliasArn: `${MACHINE}:live` });
    sfn.on(UpdateStateMachineAliasCommand).resolves({ updateDate: new Date() });
    const result = await post(ECHO);
    expect(bodyOf(result)).toEqual({ name: 'echo', version: 5 });
    expect(sfn.commandCalls(CreateStateMachineCommand)).toHaveLength(0);
    expect(sfn.commandCalls(UpdateStateMachineAliasCommand)[0]!.args[0].input.routingConfiguration).toEqual([
      { stateMachineVersionArn: `${MACHINE}:5`, weight: 100 },
    ]);
  });

  it('answers 400 with diagnostics for an invalid workflow, an unknown operator, a missing queue', async () => {
    const broken = await post('name: Bad_Name\nnodes: {}\n');
    expect(broken.statusCode).toBe(400);
    expect((bodyOf(broken).diagnostics as unknown[]).length).toBeGreaterThan(0);

    const unknown = await post(ECHO.replace('test/echo', 'test/nope'));
    expect(bodyOf(unknown).diagnostics).toEqual([
      expect.objectContaining({ code: 'UNKNOWN_OPERATOR', node: 'work' }),
    ]);

    const queue = await post(
      ECHO.replace('type: sync, operator: test/echo', 'type: async, via: queue, queue: elsewhere'),
    );
    expect(bodyOf(queue).diagnostics).toEqual([
      expect.objectContaining({ code: 'INVALID_TARGET', node: 'work' }),
    ]);

    const consumer = await post(
      ECHO.replace('type: sync, operator: test/echo', 'type: async, via: queue, operator: media/probe'),
    );
    expect(bodyOf(consumer).diagnostics).toEqual([
      expect.objectContaining({
        code: 'INVALID_TARGET',
        message: expect.stringContaining("'test/echo' consumes"),
      }),
    ]);
    expect(sfn.calls()).toHaveLength(0);
    expect(db.calls()).toHaveLength(0);
  });

  it('answers 400 to an empty body and 415 to a multipart one', async () => {
    expect((await post('  ')).statusCode).toBe(400);
    const multipart = await compiler.handler(
      apiEvent('POST', '/workflows', {
        body: ECHO,
        headers: { 'content-type': 'multipart/form-data; boundary=x' },
      }),
    );
    expect(multipart.statusCode).toBe(415);
  });

  it('answers 503 when Step Functions throttles past the SDK retries', async () => {
    firstRegistration();
    sfn.on(CreateStateMachineCommand).rejects(sdkError('ThrottlingException'));
    expect((await post(ECHO)).statusCode).toBe(503);
  });
});

describe('onDeploy (workflows/*.yaml at deploy time)', () => {
  const event = (type: 'Create' | 'Update' | 'Delete', workflows: { File: string; Source: string }[]) =>
    ({
      RequestType: type,
      PhysicalResourceId: 'shipped-workflows',
      ResourceProperties: { ServiceToken: 'x', Workflows: workflows },
    }) as unknown as CloudFormationCustomResourceEvent;

  it('registers each shipped workflow', async () => {
    firstRegistration();
    const result = await compiler.onDeploy(event('Create', [{ File: 'workflows/echo.yaml', Source: ECHO }]));
    expect(result).toEqual({ PhysicalResourceId: 'shipped-workflows', Data: { Registered: 'echo@1' } });
  });

  it('adds no version when neither the source nor the compiled definition changed', async () => {
    firstRegistration();
    await compiler.onDeploy(event('Create', [{ File: 'workflows/echo.yaml', Source: ECHO }]));
    const deployment =
      db.commandCalls(UpdateCommand)[0]!.args[0].input.ExpressionAttributeValues![':deployment'];
    sfn.reset();
    db.reset();
    db.on(QueryCommand, { TableName: TABLES.workflows }).resolves({
      Items: [{ name: 'echo', version: 1, source: ECHO, createdAt: 'x', deployment }],
    });
    const result = await compiler.onDeploy(event('Update', [{ File: 'workflows/echo.yaml', Source: ECHO }]));
    expect(result.Data).toEqual({ Registered: 'echo@1' });
    expect(sfn.calls()).toHaveLength(0);
    expect(db.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('fails the deploy naming the file, line and code of each error', async () => {
    await expect(
      compiler.onDeploy(
        event('Update', [{ File: 'workflows/bad.yaml', Source: ECHO.replace('test/echo', 'test/nope') }]),
      ),
    ).rejects.toThrow(/^workflows\/bad\.yaml:5:\d+: UNKNOWN_OPERATOR: /);
  });

  it('leaves registered workflows alone on delete', async () => {
    expect(await compiler.onDeploy(event('Delete', []))).toEqual({ PhysicalResourceId: 'shipped-workflows' });
    expect(sfn.calls()).toHaveLength(0);
  });
});
