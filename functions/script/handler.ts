// `script` nodes (dag-spec §2): a JSONata expression or a sandboxed JavaScript function body, run
// through the operator runtime (one trace per run) in the sandbox processes of lib/runtime/script.ts.
import { createLogger, runtimeLogLine } from '../../lib/aws/logging.js';
import { trackingFromEnv } from '../../lib/aws/stores.js';
import { OperatorRuntime } from '../../lib/runtime/operator-runtime.js';
import { runScript, type ScriptLanguage } from '../../lib/runtime/script.js';

const logger = createLogger();
const runtime = new OperatorRuntime(
  trackingFromEnv(['events', 'segments', 'traces']).tracking,
  runtimeLogLine(logger),
);

/** The Parameters of a compiled script Task (see emit.ts, case 'script'). */
export interface ScriptTaskInput {
  readonly task: { readonly id: string; readonly workflow: string };
  readonly node: string;
  readonly segment?: { readonly order: number };
  readonly language: ScriptLanguage;
  readonly source: string;
  readonly timeoutMs: number;
  readonly context: unknown;
}

export async function handler(input: ScriptTaskInput): Promise<unknown> {
  return runtime.run(
    {
      task: input.task,
      node: input.node,
      nodeType: 'script',
      ...(input.segment === undefined ? {} : { order: input.segment.order }),
      // Script nodes have no retry (dag-spec §2): every run is the first attempt.
      attempt: 1,
      input: input.context,
    },
    // The context with its payload references resolved.
    (event) =>
      runScript({
        language: input.language,
        source: input.source,
        context: event.input,
        timeoutMs: input.timeoutMs,
      }),
  );
}
