import { z } from 'zod';

// The whole workflow language of dag-spec §1–§4 as one zod schema. The validator parses each node with
// the schema of its own type (so a diagnostic names the node and field), and the JSON Schema that
// editors use is generated from `WorkflowSchema` (scripts/generate-schema.ts).

export const WORKFLOW_NAME_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;
export const NODE_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9-]{0,63}$/;
export const OPERATOR_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]*(\/[A-Za-z0-9][A-Za-z0-9_-]*)*$/;
/** SQS queue names: up to 80 letters, digits, `-` and `_`, with `.fifo` for FIFO queues. */
export const QUEUE_NAME_PATTERN = /^[A-Za-z0-9_-]{1,75}(\.fifo)?$|^[A-Za-z0-9_-]{1,80}$/;

export const DEFAULT_SYNC_TIMEOUT_SECONDS = 300;
export const DEFAULT_ASYNC_TIMEOUT_SECONDS = 3600;
export const DEFAULT_SCRIPT_TIMEOUT_SECONDS = 2;

const positiveSeconds = z.number().int().min(1).max(31_536_000);

/** A JSON value whose strings starting with `$.` (or exactly `$`) are references into the context (§3). */
export const TemplateSchema = z.json().meta({
  description:
    'A JSON value; strings beginning with "$." (or exactly "$") are references into the task context.',
});

export const RetrySchema = z
  .strictObject({
    maxAttempts: z.number().int().min(1).max(100).meta({ description: 'Every attempt, the first included.' }),
    interval: z
      .number()
      .int()
      .min(1)
      .max(86_400)
      .optional()
      .meta({ description: 'Seconds before the first retry (default 1).' }),
    backoffRate: z
      .number()
      .min(1)
      .max(100)
      .optional()
      .meta({ description: 'Multiplier of the interval per retry (default 2).' }),
    maxDelay: positiveSeconds.optional().meta({ description: 'Upper bound of any retry delay, seconds.' }),
  })
  .meta({ description: 'Retry policy; retries every error with full jitter.' });

const NodeNameRef = z.string().min(1);
export const NextSchema = z
  .union([NodeNameRef, z.array(NodeNameRef).min(1)])
  .meta({ description: 'The next node, or a list of nodes to run in parallel (a fork).' });

const plannerHints = {
  estimate: z
    .number()
    .min(0)
    .optional()
    .meta({ description: 'Expected duration in seconds, read only by the planner.' }),
  fuse: z
    .boolean()
    .optional()
    .meta({ description: 'false: never merge this node into one Task with its neighbours.' }),
};

const operatorName = z.string().regex(OPERATOR_PATTERN, 'an operator is a module path such as media/probe');

export const StartNodeSchema = z.strictObject({
  type: z.literal('start'),
  next: NextSchema,
});

export const EndNodeSchema = z.strictObject({
  type: z.literal('end'),
  status: z.enum(['succeeded', 'failed']).optional(),
  output: TemplateSchema.optional(),
  error: z.string().min(1).optional(),
  cause: z.string().optional(),
});

export const RouteSchema = z.strictObject({
  when: z.string().meta({ description: 'A condition (§4), e.g. "nodes.probe.durationSec > 30".' }),
  next: NodeNameRef,
});

export const RouterNodeSchema = z.strictObject({
  type: z.literal('router'),
  routes: z.array(RouteSchema).min(1),
  default: NodeNameRef,
});

const operatorFields = {
  operator: operatorName,
  input: TemplateSchema.optional(),
  timeout: positiveSeconds.optional().meta({ description: 'Seconds per attempt.' }),
  retry: RetrySchema.optional(),
  onError: NodeNameRef.optional(),
  next: NextSchema.optional(),
  ...plannerHints,
};

export const SyncNodeSchema = z.strictObject({
  type: z.literal('sync'),
  ...operatorFields,
});

export const AsyncNodeSchema = z.strictObject({
  type: z.literal('async'),
  ...operatorFields,
  operator: operatorName.optional().meta({
    description: 'Required for via lambda and batch; with via queue, the operator that consumes the queue.',
  }),
  via: z
    .enum(['lambda', 'queue', 'batch'])
    .optional()
    .meta({ description: 'How the work is handed out (default lambda).' }),
  queue: z.string().regex(QUEUE_NAME_PATTERN, 'a queue name is up to 80 letters, digits, - and _').optional(),
  heartbeat: positiveSeconds.optional().meta({ description: 'Seconds allowed between heartbeats.' }),
});

export const ScriptNodeSchema = z.strictObject({
  type: z.literal('script'),
  language: z.enum(['jsonata', 'javascript']),
  source: z.string().min(1),
  timeout: z.number().positive().max(900).optional().meta({ description: 'Seconds (default 2).' }),
  onError: NodeNameRef.optional(),
  next: NextSchema.optional(),
  ...plannerHints,
});

/** The node a parallel node runs once per item: an operator node without edges of its own. */
export const ItemNodeSchema = z.discriminatedUnion('type', [
  SyncNodeSchema.omit({ next: true, onError: true }),
  AsyncNodeSchema.omit({ next: true, onError: true }),
  ScriptNodeSchema.omit({ next: true, onError: true }),
]);

export const ParallelNodeSchema = z.strictObject({
  type: z.literal('parallel'),
  items: z
    .string()
    .meta({ description: 'JSONPath to an array in the context, e.g. $.nodes.slice.segments.' }),
  node: ItemNodeSchema,
  maxConcurrency: z.number().int().min(0).max(10_000).optional().meta({ description: '0 means no limit.' }),
  toleratedFailurePercentage: z.number().min(0).max(100).optional(),
  mode: z.enum(['inline', 'distributed']).optional(),
  onError: NodeNameRef.optional(),
  next: NextSchema.optional(),
});

export const CallbackTargetSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('eventbridge'),
    detailType: z.string().min(1).max(128),
    source: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,256}$/, 'an event source is letters, digits, dots, - and _')
      .optional(),
  }),
  z.strictObject({
    kind: z.literal('sqs'),
    queue: z.string().regex(QUEUE_NAME_PATTERN, 'a queue name is up to 80 letters, digits, - and _'),
  }),
  z.strictObject({
    kind: z.literal('http'),
    url: z.url({ protocol: /^https?$/, error: 'an http target needs an absolute http(s) URL' }),
    method: z.enum(['POST', 'PUT', 'PATCH']).optional(),
  }),
]);

export const CallbackNodeSchema = z.strictObject({
  type: z.literal('callback'),
  target: CallbackTargetSchema,
  payload: TemplateSchema.optional(),
  next: NextSchema.optional(),
});

export const NodeSchemas = {
  start: StartNodeSchema,
  end: EndNodeSchema,
  router: RouterNodeSchema,
  sync: SyncNodeSchema,
  async: AsyncNodeSchema,
  parallel: ParallelNodeSchema,
  callback: CallbackNodeSchema,
  script: ScriptNodeSchema,
} as const;

export type NodeType = keyof typeof NodeSchemas;
export const NODE_TYPES = Object.keys(NodeSchemas) as NodeType[];

export const NodeSchema = z.discriminatedUnion('type', [
  StartNodeSchema,
  EndNodeSchema,
  RouterNodeSchema,
  SyncNodeSchema,
  AsyncNodeSchema,
  ParallelNodeSchema,
  CallbackNodeSchema,
  ScriptNodeSchema,
]);

export const DefaultsSchema = z.strictObject({
  timeout: positiveSeconds.optional().meta({ description: 'Seconds per attempt of sync and async nodes.' }),
  retry: RetrySchema.optional(),
});

/** Every top-level field but `nodes`, which the validator checks node by node. */
export const WorkflowHeaderSchema = z.strictObject({
  $schema: z.string().optional(),
  name: z.string().regex(WORKFLOW_NAME_PATTERN),
  description: z.string().optional(),
  input: z
    .record(z.string(), z.json())
    .optional()
    .meta({ description: 'JSON Schema (2020-12) of the task input.' }),
  params: z
    .record(z.string(), z.json())
    .optional()
    .meta({ description: 'Compile-time parameters and their defaults.' }),
  timeout: positiveSeconds.optional().meta({ description: 'Seconds for the whole task.' }),
  defaults: DefaultsSchema.optional(),
});

export const WorkflowSchema = WorkflowHeaderSchema.extend({
  nodes: z.record(z.string().regex(NODE_NAME_PATTERN), NodeSchema),
}).meta({ title: 'DAG workflow', description: 'A media-processing workflow (dag-spec v1).' });

export type Retry = z.infer<typeof RetrySchema>;
export type Next = z.infer<typeof NextSchema>;
export type StartNode = z.infer<typeof StartNodeSchema>;
export type EndNode = z.infer<typeof EndNodeSchema>;
export type RouterNode = z.infer<typeof RouterNodeSchema>;
export type SyncNode = z.infer<typeof SyncNodeSchema>;
export type AsyncNode = z.infer<typeof AsyncNodeSchema>;
export type ScriptNode = z.infer<typeof ScriptNodeSchema>;
export type ItemNode = z.infer<typeof ItemNodeSchema>;
export type ParallelNode = z.infer<typeof ParallelNodeSchema>;
export type CallbackNode = z.infer<typeof CallbackNodeSchema>;
export type CallbackTarget = z.infer<typeof CallbackTargetSchema>;
export type WorkflowNode = z.infer<typeof NodeSchema>;
export type WorkflowHeader = z.infer<typeof WorkflowHeaderSchema>;
export type Workflow = z.infer<typeof WorkflowSchema>;
export type OperatorNode = SyncNode | AsyncNode | ScriptNode;
export type JsonValue = z.infer<typeof TemplateSchema>;

export function isOperatorNode(node: WorkflowNode): node is OperatorNode {
  return node.type === 'sync' || node.type === 'async' || node.type === 'script';
}

/** Every node a node may go to next: its `next`, a router's routes and default, its `onError`. */
export function nextList(next: Next | undefined): string[] {
  if (next === undefined) return [];
  return typeof next === 'string' ? [next] : [...next];
}
