// Creating or updating a compiled workflow's state machine: Standard, one shared execution role, a
// published version per registration and a `live` alias on the newest.
import {
  CreateStateMachineAliasCommand,
  CreateStateMachineCommand,
  DescribeStateMachineAliasCommand,
  type LoggingConfiguration,
  type SFNClient,
  UpdateStateMachineAliasCommand,
  UpdateStateMachineCommand,
} from '@aws-sdk/client-sfn';
import { errorName } from './sdk-errors.js';

export interface PublishedMachine {
  readonly stateMachineArn: string;
  readonly versionArn: string;
  readonly aliasArn: string;
}

export interface PublishInput {
  readonly name: string;
  /** The ARN the machine has (or will have): `stateMachine:<name>` in the engine's account and region. */
  readonly arn: string;
  readonly definition: string;
  /** The version's description, e.g. `v3`. */
  readonly description: string;
}

export interface StateMachinePublisher {
  publish(input: PublishInput): Promise<PublishedMachine>;
}

export const LIVE_ALIAS = 'live';

export interface SfnStateMachinePublisherOptions {
  readonly roleArn: string;
  /** A log group ARN ending in `:*`; executions log errors there. */
  readonly logGroupArn?: string;
}

export class SfnStateMachinePublisher implements StateMachinePublisher {
  private readonly logging: LoggingConfiguration | undefined;

  constructor(
    private readonly sfn: SFNClient,
    private readonly options: SfnStateMachinePublisherOptions,
  ) {
    this.logging =
      options.logGroupArn === undefined
        ? undefined
        : {
            level: 'ERROR',
            includeExecutionData: false,
            destinations: [{ cloudWatchLogsLogGroup: { logGroupArn: options.logGroupArn } }],
          };
  }

  async publish(input: PublishInput): Promise<PublishedMachine> {
    const versionArn = await this.updateOrCreate(input);
    const aliasArn = await this.pointAlias(input.arn, versionArn);
    return { stateMachineArn: input.arn, versionArn, aliasArn };
  }

  /** Update first: after the first registration of a name, the machine exists. */
  private async updateOrCreate(input: PublishInput): Promise<string> {
    const common = {
      definition: input.definition,
      roleArn: this.options.roleArn,
      publish: true,
      versionDescription: input.description,
      ...(this.logging ? { loggingConfiguration: this.logging } : {}),
    };
    try {
      const updated = await this.sfn.send(
        new UpdateStateMachineCommand({ stateMachineArn: input.arn, ...common }),
      );
      return requireVersion(updated.stateMachineVersionArn, input.arn);
    } catch (error) {
      if (errorName(error) !== 'StateMachineDoesNotExist') throw error;
    }
    try {
      const created = await this.sfn.send(
        new CreateStateMachineCommand({ name: input.name, type: 'STANDARD', ...common }),
      );
      return requireVersion(created.stateMachineVersionArn, input.arn);
    } catch (error) {
      // Another registration created it between our update and create: update it after all.
      if (errorName(error) !== 'StateMachineAlreadyExists') throw error;
      const updated = await this.sfn.send(
        new UpdateStateMachineCommand({ stateMachineArn: input.arn, ...common }),
      );
      return requireVersion(updated.stateMachineVersionArn, input.arn);
    }
  }

  private async pointAlias(stateMachineArn: string, versionArn: string): Promise<string> {
    const aliasArn = `${stateMachineArn}:${LIVE_ALIAS}`;
    const routingConfiguration = [{ stateMachineVersionArn: versionArn, weight: 100 }];
    try {
      await this.sfn.send(new DescribeStateMachineAliasCommand({ stateMachineAliasArn: aliasArn }));
    } catch (error) {
      if (errorName(error) !== 'ResourceNotFound') throw error;
      const created = await this.sfn.send(
        new CreateStateMachineAliasCommand({ name: LIVE_ALIAS, routingConfiguration }),
      );
      return created.stateMachineAliasArn ?? aliasArn;
    }
    await this.sfn.send(
      new UpdateStateMachineAliasCommand({ stateMachineAliasArn: aliasArn, routingConfiguration }),
    );
    return aliasArn;
  }
}

function requireVersion(versionArn: string | undefined, stateMachineArn: string): string {
  if (versionArn === undefined) throw new Error(`Step Functions published no version of ${stateMachineArn}.`);
  return versionArn;
}
