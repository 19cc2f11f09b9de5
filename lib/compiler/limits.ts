// Where a plan may pass Step Functions' hard limits, said at compile time with what to do about it.
import { type Diagnostic, DiagnosticCode } from '../dag/diagnostics.js';
import { parseReference } from '../dag/reference.js';
import type { ParallelNode, Retry } from '../dag/schema.js';
import type { AslDefinition } from './emit.js';
import { allStates } from './passes.js';
import type { ExecutionPlan } from './plan-types.js';

/** Step Functions' limit on a state machine definition. */
export const MAX_DEFINITION_BYTES = 1_048_576;
/** Events in one Standard execution's history. */
export const MAX_HISTORY_EVENTS = 25_000;
/** Events kept aside for the states around a Map. */
const HISTORY_RESERVE = 1_000;

/**
 * History events one inline Map item adds: iteration started/succeeded, state entered/exited, task
 * scheduled/started/succeeded; each retry adds failed/scheduled/started; a task token adds submitted.
 */
export function historyEventsPerItem(node: ParallelNode, defaults: Retry | undefined): number {
  const retry = node.node.type === 'script' ? undefined : (node.node.retry ?? defaults);
  const retries = Math.max(0, (retry?.maxAttempts ?? 1) - 1);
  return 7 + 3 * retries + (node.node.type === 'async' ? 1 : 0);
}

export function inlineMapItemLimit(node: ParallelNode, defaults: Retry | undefined): number {
  return Math.floor((MAX_HISTORY_EVENTS - HISTORY_RESERVE) / historyEventsPerItem(node, defaults));
}

export function limitDiagnostics(plan: ExecutionPlan, asl: AslDefinition): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const bytes = Buffer.byteLength(JSON.stringify(asl));
  if (bytes > MAX_DEFINITION_BYTES) {
    diagnostics.push(
      warning(
        `The compiled definition is ${bytes} bytes, over Step Functions' ${MAX_DEFINITION_BYTES}-byte limit. Split the workflow, or move large literals (script sources, templates) into operators.`,
      ),
    );
  }
  const workflow = plan.dag.workflow;
  for (const state of allStates(plan)) {
    if (state.kind !== 'map' || state.mode !== 'inline') continue;
    const node = plan.dag.nodes.get(state.node);
    if (node?.type !== 'parallel') continue;
    const limit = inlineMapItemLimit(node, workflow.defaults?.retry);
    const declared = declaredMaxItems(workflow.input, node.items);
    if (declared !== undefined && declared > limit) {
      diagnostics.push(
        warning(
          `Parallel node '${state.node}' runs inline, and its items may number ${declared} (the input schema's maxItems); an inline Map holds about ${limit} such items before the execution passes ${MAX_HISTORY_EVENTS} history events. Set \`mode: distributed\`.`,
          state.node,
        ),
      );
    }
  }
  return diagnostics;
}

/** `maxItems` of the array at an `$.input...` path, read from the workflow's input JSON Schema. */
export function declaredMaxItems(schema: unknown, items: string): number | undefined {
  const parsed = parseReference(items);
  if (!parsed.ok || parsed.segments[0] !== 'input') return undefined;
  let current = schema as Record<string, unknown> | undefined;
  for (const segment of parsed.segments.slice(1)) {
    const properties = current?.properties as Record<string, Record<string, unknown>> | undefined;
    current =
      typeof segment === 'string'
        ? properties?.[segment]
        : (current?.items as Record<string, unknown> | undefined);
    if (!current) return undefined;
  }
  return typeof current?.maxItems === 'number' ? current.maxItems : undefined;
}

function warning(message: string, node?: string): Diagnostic {
  return {
    code: DiagnosticCode.STEP_FUNCTIONS_LIMIT,
    severity: 'warning',
    message,
    ...(node ? { node } : {}),
  };
}
