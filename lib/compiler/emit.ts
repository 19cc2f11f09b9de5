// Execution plan -> Amazon States Language (JSONPath mode). A projection: no side effects, and the
// same plan always gives the same bytes.
import type { PathSegment } from '../dag/parse.js';
import { isReference } from '../dag/reference.js';
import {
  type CallbackNode,
  DEFAULT_ASYNC_TIMEOUT_SECONDS,
  DEFAULT_SCRIPT_TIMEOUT_SECONDS,
  DEFAULT_SYNC_TIMEOUT_SECONDS,
  type ItemNode,
  type OperatorNode,
  type ParallelNode,
  type Retry,
  type SyncNode,
  type WorkflowNode,
} from '../dag/schema.js';
import { operatorGroupOf } from '../runtime/operator-groups.js';
import { parseObjectUri } from '../storage/object-store.js';
import type { ResourceBindings } from './bindings.js';
import { conditionToChoiceRule } from './choice.js';
import { formatReferencePath } from './jsonpath.js';
import { itemsStaged } from './map-io.js';
import type {
  ChoiceState,
  ExecutionPlan,
  MapItemsState,
  MapResultsState,
  MapState,
  PlanScope,
  PlanState,
  Transition,
} from './plan-types.js';
import { fieldText, referencePath, templateParameters as toParameters } from './templates.js';

export type AslState = Record<string, unknown>;
export interface AslDefinition {
  Comment?: string;
  StartAt: string;
  States: Record<string, AslState>;
  TimeoutSeconds?: number;
  [key: string]: unknown;
}

/** Thrown for a template ASL cannot express; carries the node and field for a diagnostic. */
export class TemplateNotExpressibleError extends Error {
  override name = 'TemplateNotExpressibleError';
  constructor(
    readonly node: string,
    readonly at: readonly PathSegment[],
    message: string,
  ) {
    super(message);
  }
}

/**
 * A barrier wait has no limit of its own: its producers' states have theirs, and a failing branch
 * stops the Parallel. Without a workflow timeout it waits as long as a Standard execution may run.
 */
const BARRIER_WAIT_TIMEOUT_SECONDS = 365 * 24 * 3600;

/**
 * Engine plumbing (barriers) is retried rather than failing the task: a barrier call that failed
 * (Lambda throttled, Step Functions not told) is safe to repeat. States.TaskFailed matches every
 * error but a timeout.
 */
const BARRIER_RETRY = {
  Retry: [
    {
      ErrorEquals: ['States.TaskFailed'],
      IntervalSeconds: 1,
      MaxAttempts: 3,
      BackoffRate: 2,
      JitterStrategy: 'FULL',
    },
  ],
};

/**
 * Retries of an engine function's invocation that did not run it (throttled, service faults); its
 * own failures (a tolerance exceeded, items that are not an array) are final.
 */
const LAMBDA_TRANSIENT_RETRY = {
  Retry: [
    {
      ErrorEquals: [
        'Lambda.ServiceException',
        'Lambda.AWSLambdaException',
        'Lambda.SdkClientException',
        'Lambda.TooManyRequestsException',
      ],
      IntervalSeconds: 1,
      MaxAttempts: 3,
      BackoffRate: 2,
      JitterStrategy: 'FULL',
    },
  ],
};

/** The map-store function reads or writes every item of a Distributed Map: minutes, not seconds. */
const MAP_STORE_TIMEOUT_SECONDS = 300;

/** Seconds a script (or fused chain) Task waits beyond its own limits, for the function's start-up. */
const SCRIPT_TASK_MARGIN_SECONDS = 30;

export function emitAsl(plan: ExecutionPlan, bindings: ResourceBindings): AslDefinition {
  const emitter = new Emitter(plan, bindings);
  const workflow = plan.dag.workflow;
  const scope = emitter.scope(plan.root);
  return {
    ...(workflow.description ? { Comment: workflow.description } : {}),
    StartAt: scope.StartAt,
    States: scope.States,
    ...(workflow.timeout !== undefined ? { TimeoutSeconds: workflow.timeout } : {}),
  };
}

class Emitter {
  constructor(
    private readonly plan: ExecutionPlan,
    private readonly bindings: ResourceBindings,
  ) {}

  private node(name: string): WorkflowNode {
    return this.plan.dag.nodes.get(name)!;
  }

  scope(scope: PlanScope): { StartAt: string; States: Record<string, AslState> } {
    const states: Record<string, AslState> = {};
    for (const state of scope.states.values()) states[state.name] = this.state(state);
    return { StartAt: scope.startAt, States: states };
  }

  private state(state: PlanState): AslState {
    switch (state.kind) {
      case 'pass':
        return { Type: 'Pass', ...this.exit(state) };
      case 'end':
        return this.end(state.node);
      case 'choice':
        return {
          Type: 'Choice',
          Choices: state.routes.map((route) => ({
            ...conditionToChoiceRule(route.condition),
            Next: route.next,
          })),
          Default: state.default,
        };
      case 'error':
        return {
          Type: 'Pass',
          Parameters: {
            'error.$': `${errorsPath(state.node)}.Error`,
            'cause.$': `${errorsPath(state.node)}.Cause`,
          },
          ResultPath: errorsPath(state.node),
          ...this.exit(state),
        };
      case 'task': {
        const name = state.nodes[0]!;
        const task =
          state.nodes.length > 1
            ? this.fusedTask(state.nodes)
            : this.task(name, this.node(name) as OperatorNode | CallbackNode, undefined);
        return { ...task, ...catcher(state.catch), ...this.exit(state) };
      }
      case 'map':
        return {
          ...this.map(state),
          ...catcher(state.catch),
          ...this.exit(state),
        };
      case 'map-items':
        // Where the Map's ItemReader finds them: `{ bucket, key, count }`, beside the Map's result.
        return this.mapStoreTask(state, {
          action: 'stage',
          items: this.parallel(state.node).items,
          'nodes.$': '$.nodes',
        });
      case 'map-results':
        return this.mapStoreTask(state, {
          action: 'collect',
          toleratedFailurePercentage: this.parallel(state.node).toleratedFailurePercentage ?? 0,
          ...this.mapRun(state.node),
        });
      case 'tolerance': {
        const node = this.node(state.node);
        const percentage = node.type === 'parallel' ? (node.toleratedFailurePercentage ?? 0) : 0;
        const caught = (state as { catch?: { node: string; next: string } }).catch;
        return {
          Type: 'Task',
          Resource: this.bindings.toleranceFunctionArn,
          Parameters: {
            'task.$': '$.task',
            node: state.node,
            toleratedFailurePercentage: percentage,
            'items.$': nodesPath(state.node),
          },
          ResultPath: nodesPath(state.node),
          TimeoutSeconds: 60,
          ...catcher(caught),
          ...this.exit(state),
        };
      }
      case 'barrier-wait':
        return {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
          Parameters: {
            FunctionName: this.bindings.barrierFunctionArn,
            Payload: {
              action: 'wait',
              'taskToken.$': '$$.Task.Token',
              'task.$': '$.task',
              consumer: state.consumer,
              producers: [...state.producers],
              // Kept with the token: the wait resumes with it merged with the producers' branches.
              'context.$': '$',
            },
          },
          TimeoutSeconds: this.plan.dag.workflow.timeout ?? BARRIER_WAIT_TIMEOUT_SECONDS,
          ...BARRIER_RETRY,
          ...this.exit(state),
        };
      case 'barrier-release':
        return {
          Type: 'Task',
          Resource: this.bindings.barrierFunctionArn,
          Parameters: {
            action: 'release',
            'task.$': '$.task',
            producer: state.producer,
            consumers: [...state.consumers],
            'nodes.$': '$.nodes',
            'errors.$': '$.errors',
          },
          ResultPath: null,
          TimeoutSeconds: 60,
          ...BARRIER_RETRY,
          ...this.exit(state),
        };
      case 'parallel':
        return {
          Type: 'Parallel',
          Branches: state.branches.map((branch) => this.scope(branch)),
          // Each branch returns the whole context with its own nodes added; merge them back into one.
          ResultSelector: {
            'task.$': '$[0].task',
            'input.$': '$[0].input',
            'params.$': '$[0].params',
            'nodes.$': mergeAll('nodes', state.branches.length),
            'errors.$': mergeAll('errors', state.branches.length),
          },
          ...this.exit(state),
        };
    }
  }

  /** Next or End; a state that an end node was folded into ends the task with the end's output. */
  private exit(state: Exclude<PlanState, ChoiceState>): Record<string, unknown> {
    if (state.endsAs === undefined) return transition(state.transition);
    const end = this.node(state.endsAs);
    const output =
      end.type === 'end' && end.output !== undefined ? referencePath(end.output as string) : '$.nodes';
    return { OutputPath: output, End: true };
  }

  private end(name: string): AslState {
    const node = this.node(name);
    if (node.type !== 'end') throw new Error(`internal: ${name} is not an end node`);
    if (node.status === 'failed') {
      return {
        Type: 'Fail',
        Error: node.error ?? 'Failed',
        Cause: node.cause ?? `The task ended at '${name}'.`,
      };
    }
    if (node.output === undefined) return { Type: 'Succeed', OutputPath: '$.nodes' };
    if (isReference(node.output)) return { Type: 'Succeed', OutputPath: referencePath(node.output) };
    // Wrapped so any template shape (object, array, scalar) becomes the output through one path.
    return {
      Type: 'Pass',
      Parameters: templateParameters(name, [], { output: node.output }),
      OutputPath: '$.output',
      End: true,
    };
  }

  /** The Task for an operator or callback node (`item` is set inside a parallel node's Map). */
  private task(
    name: string,
    node: OperatorNode | CallbackNode | ItemNode,
    item: { readonly parallel: string } | undefined,
  ): AslState {
    const segment = item ? { segment: { 'order.$': '$.order' } } : {};
    const base = { 'task.$': '$.task', node: item?.parallel ?? name, ...segment };
    const at: PathSegment[] = item ? ['node', 'input'] : ['input'];
    const owner = item?.parallel ?? name;
    switch (node.type) {
      case 'sync':
        return {
          Type: 'Task',
          Resource: this.bindings.operatorFunctionArn(node.operator),
          Parameters: {
            ...base,
            'retryCount.$': '$$.State.RetryCount',
            ...this.inputParameters(owner, at, node.input, item),
          },
          ...(item ? {} : { ResultPath: nodesPath(name) }),
          TimeoutSeconds:
            node.timeout ?? this.plan.dag.workflow.defaults?.timeout ?? DEFAULT_SYNC_TIMEOUT_SECONDS,
          ...this.retry(node.retry),
        };
      case 'async': {
        const timeout =
          node.timeout ?? this.plan.dag.workflow.defaults?.timeout ?? DEFAULT_ASYNC_TIMEOUT_SECONDS;
        return {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
          Parameters: {
            FunctionName: this.bindings.dispatchFunctionArn,
            Payload: {
              'taskToken.$': '$$.Task.Token',
              'retryCount.$': '$$.State.RetryCount',
              ...base,
              via: node.via ?? 'lambda',
              ...(node.via === 'queue' ? { queue: node.queue ?? 'work' } : {}),
              ...(node.operator !== undefined ? { operator: node.operator } : {}),
              timeoutSeconds: timeout,
              ...(node.heartbeat !== undefined ? { heartbeatSeconds: node.heartbeat } : {}),
              ...this.inputParameters(owner, at, node.input, item),
            },
          },
          ...(item ? {} : { ResultPath: nodesPath(name) }),
          TimeoutSeconds: timeout,
          ...(node.heartbeat !== undefined ? { HeartbeatSeconds: node.heartbeat } : {}),
          ...this.retry(node.retry),
        };
      }
      case 'script': {
        const seconds = node.timeout ?? DEFAULT_SCRIPT_TIMEOUT_SECONDS;
        return {
          Type: 'Task',
          Resource: this.bindings.scriptFunctionArn,
          Parameters: {
            ...base,
            language: node.language,
            source: node.source,
            timeoutMs: Math.round(seconds * 1000),
            'context.$': '$',
          },
          ...(item ? {} : { ResultPath: nodesPath(name) }),
          TimeoutSeconds: Math.ceil(seconds) + SCRIPT_TASK_MARGIN_SECONDS,
        };
      }
      case 'callback':
        return this.callback(name, node);
    }
  }

  /**
   * A fused chain of sync nodes (the `fuse-sync-chains` pass): the chain function runs them in order
   * (lib/runtime/fused-chain.ts), reading each input template against the context as the chain has
   * made it, so the templates travel as JSON text; it returns the context's `nodes` with every output.
   */
  private fusedTask(names: readonly string[]): AslState {
    const defaults = this.plan.dag.workflow.defaults;
    const nodes = names.map((name) => ({ name, node: this.node(name) as SyncNode }));
    const chain = nodes.map(({ name, node }) => ({
      node: name,
      operator: node.operator,
      input: JSON.stringify(node.input ?? { input: '$.input', nodes: '$.nodes' }),
      timeoutSeconds: node.timeout ?? defaults?.timeout ?? DEFAULT_SYNC_TIMEOUT_SECONDS,
    }));
    return {
      Type: 'Task',
      Resource: this.bindings.chainFunctionArn(operatorGroupOf(nodes[0]!.node.operator)),
      Parameters: { 'task.$': '$.task', 'retryCount.$': '$$.State.RetryCount', chain, 'context.$': '$' },
      ResultPath: '$.nodes',
      // Each node's own limit is kept by the runtime; this only bounds the whole invocation.
      TimeoutSeconds: chain.reduce((sum, link) => sum + link.timeoutSeconds, 0) + SCRIPT_TASK_MARGIN_SECONDS,
      ...this.retry(nodes[0]!.node.retry),
    };
  }

  private callback(name: string, node: CallbackNode): AslState {
    const payload = node.payload ?? { task: '$.task', nodes: '$.nodes' };
    const body = (key: string) => templateParameters(name, ['payload'], { [key]: payload });
    const target = node.target;
    const common = { ResultPath: null, TimeoutSeconds: 60 };
    switch (target.kind) {
      case 'eventbridge':
        return {
          Type: 'Task',
          Resource: 'arn:aws:states:::events:putEvents',
          Parameters: {
            Entries: [
              {
                EventBusName: this.bindings.eventBusName,
                Source: target.source ?? 'dag.engine',
                DetailType: target.detailType,
                ...body('Detail'),
              },
            ],
          },
          ...common,
        };
      case 'sqs':
        return {
          Type: 'Task',
          Resource: 'arn:aws:states:::sqs:sendMessage',
          Parameters: { QueueUrl: this.bindings.queueUrl(target.queue), ...body('MessageBody') },
          ...common,
        };
      case 'http':
        return {
          Type: 'Task',
          Resource: this.bindings.notifierFunctionArn,
          Parameters: {
            'task.$': '$.task',
            node: name,
            url: target.url,
            method: target.method ?? 'POST',
            ...body('body'),
          },
          ...common,
        };
    }
  }

  private parallel(name: string): ParallelNode {
    const node = this.node(name);
    if (node.type !== 'parallel') throw new Error(`internal: ${name} is not a parallel node`);
    return node;
  }

  private map(state: MapState): AslState {
    const { node: name, itemState } = state;
    const node = this.parallel(name);
    const store = state.storeBacked === true;
    // A store-backed Map catches every item: its collector decides, as the tolerance check does.
    const catching = store || (node.toleratedFailurePercentage ?? 0) > 0;
    const failedState = `${name}_failed`;
    // Through the store, results come back in no particular order: each item's result carries its
    // index, `{ order, output }`, the item's context riding in `output` until its Task replaces it.
    const nested = store ? { InputPath: '$.output', ResultPath: '$.output' } : {};
    const inner: AslState = {
      ...this.task(name, node.node, { parallel: name }),
      ...nested,
      ...(catching
        ? {
            Catch: [
              {
                ErrorEquals: ['States.ALL'],
                Next: failedState,
                ...(store ? { ResultPath: '$.output' } : {}),
              },
            ],
          }
        : {}),
      End: true,
    };
    const states: Record<string, AslState> = { [itemState]: inner };
    if (catching) {
      // A failed item's output is a marker the tolerance check (or collector) counts, then makes null.
      const marker = (at: string) => ({
        dagFailed: true,
        'error.$': `${at}.Error`,
        'cause.$': `${at}.Cause`,
      });
      states[failedState] = {
        Type: 'Pass',
        Parameters: store ? { 'order.$': '$.order', output: marker('$.output') } : marker('$'),
        End: true,
      };
    }
    const context = {
      'item.$': '$$.Map.Item.Value',
      'order.$': '$$.Map.Item.Index',
      'task.$': '$.task',
      'input.$': '$.input',
      'params.$': '$.params',
      'nodes.$': '$.nodes',
      'errors.$': '$.errors',
    };
    const items = state.itemsState
      ? {
          ItemReader: {
            Resource: 'arn:aws:states:::s3:getObject',
            ReaderConfig: { InputType: 'JSON' },
            Parameters: { 'Bucket.$': `${nodesPath(name)}.bucket`, 'Key.$': `${nodesPath(name)}.key` },
          },
        }
      : { ItemsPath: referencePath(node.items) };
    return {
      Type: 'Map',
      ...items,
      ItemSelector: store ? { 'order.$': '$$.Map.Item.Index', output: context } : context,
      ItemProcessor: {
        ProcessorConfig:
          state.mode === 'distributed'
            ? { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' }
            : { Mode: 'INLINE' },
        StartAt: itemState,
        States: states,
      },
      ...(node.maxConcurrency !== undefined ? { MaxConcurrency: node.maxConcurrency } : {}),
      ...(store ? { ResultWriter: this.resultWriter(name) } : {}),
      // Beside the staged items' place and count, which the collector checks the results against.
      ResultPath: state.itemsState ? formatReferencePath(['nodes', name, 'run']) : nodesPath(name),
    };
  }

  /** A Task of the map-store function before or after a Distributed Map; its result is the node's. */
  private mapStoreTask(
    state: MapItemsState | MapResultsState,
    parameters: Record<string, unknown>,
  ): AslState {
    const { action, ...rest } = parameters;
    return {
      Type: 'Task',
      Resource: this.bindings.mapStoreFunctionArn,
      Parameters: { action, 'task.$': '$.task', node: state.node, ...rest },
      ResultPath: nodesPath(state.node),
      TimeoutSeconds: MAP_STORE_TIMEOUT_SECONDS,
      ...LAMBDA_TRANSIENT_RETRY,
      ...catcher(state.catch),
      ...this.exit(state),
    };
  }

  /** What the collector reads: where the ResultWriter's manifest is, and how many items there were. */
  private mapRun(name: string): Record<string, string> {
    if (itemsStaged(this.plan, name))
      return {
        'written.$': `${formatReferencePath(['nodes', name, 'run'])}.ResultWriterDetails`,
        'count.$': formatReferencePath(['nodes', name, 'count']),
      };
    const items = referencePath(this.parallel(name).items);
    return {
      'written.$': `${nodesPath(name)}.ResultWriterDetails`,
      // A bracketed name's quotes would end an intrinsic's argument: then the manifest alone is trusted.
      ...(items.includes('[') ? {} : { 'count.$': `States.ArrayLength(${items})` }),
    };
  }

  /** Results as objects under `<mapResultsRoot>/<workflow>/<node>/`: only the manifest's place comes back. */
  private resultWriter(name: string): AslState {
    const root = parseObjectUri(this.bindings.mapResultsRoot);
    if (root.scheme !== 's3')
      throw new Error(`internal: mapResultsRoot ${this.bindings.mapResultsRoot} is not s3://`);
    const prefix = [root.key.replace(/\/+$/, ''), this.plan.dag.workflow.name, name]
      .filter((p) => p !== '')
      .join('/');
    return {
      Resource: 'arn:aws:states:::s3:putObject',
      Parameters: { Bucket: root.bucket, Prefix: prefix },
      WriterConfig: { Transformation: 'COMPACT', OutputType: 'JSON' },
    };
  }

  /** `input` of an operator: its template, or `{ input, nodes }` (and `item`, `order` in a Map). */
  private inputParameters(
    owner: string,
    at: PathSegment[],
    template: unknown,
    item: { readonly parallel: string } | undefined,
  ): Record<string, unknown> {
    if (template !== undefined) return templateParameters(owner, at, { input: template });
    const fallback: Record<string, string> = { input: '$.input', nodes: '$.nodes' };
    if (item) Object.assign(fallback, { item: '$.item', order: '$.order' });
    return templateParameters(owner, at, { input: fallback });
  }

  private retry(retry: Retry | undefined): Record<string, unknown> {
    const policy = retry ?? this.plan.dag.workflow.defaults?.retry;
    if (!policy || policy.maxAttempts <= 1) return {};
    return {
      Retry: [
        {
          ErrorEquals: ['States.ALL'],
          MaxAttempts: policy.maxAttempts - 1,
          IntervalSeconds: policy.interval ?? 1,
          BackoffRate: policy.backoffRate ?? 2,
          ...(policy.maxDelay !== undefined ? { MaxDelaySeconds: policy.maxDelay } : {}),
          JitterStrategy: 'FULL',
        },
      ],
    };
  }
}

function transition(t: Transition): Record<string, unknown> {
  return 'next' in t ? { Next: t.next } : { End: true };
}

function catcher(
  caught: { readonly node: string; readonly next: string } | undefined,
): Record<string, unknown> {
  if (!caught) return {};
  return { Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: errorsPath(caught.node), Next: caught.next }] };
}

function nodesPath(node: string): string {
  return formatReferencePath(['nodes', node]);
}

function errorsPath(node: string): string {
  return formatReferencePath(['errors', node]);
}

function mergeAll(field: string, count: number): string {
  let merged = `$[0].${field}`;
  for (let i = 1; i < count; i++) merged = `States.JsonMerge(${merged}, $[${i}].${field}, false)`;
  return merged;
}

/** A template object as ASL Parameters (templates.ts); what ASL cannot hold is a TemplateNotExpressibleError. */
function templateParameters(
  node: string,
  at: readonly PathSegment[],
  template: Record<string, unknown>,
): Record<string, unknown> {
  const result = toParameters(template);
  if (result.ok) return result.parameters;
  const problem = result.problems[0]!;
  const where = [...at, ...problem.at];
  const field = problem.part === 'key' ? where.slice(0, -1) : where;
  throw new TemplateNotExpressibleError(node, where, `${fieldText(field)} ${problem.reason}`);
}
