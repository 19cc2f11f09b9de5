// The web view of `dag serve`: the page, its script (bundled by esbuild from lib/web/client when the
// server starts: no build step), and /ui/api helpers that give the page what §9 does not (pictures of a
// workflow laid out by elkjs, a workflow's recent tasks, a task with its traces and segment progress
// in one read).
import { fileURLToPath } from 'node:url';
import type { Hono } from 'hono';
import type { RegisteredWorkflows } from '../local/registered-workflows.js';
import type { SegmentProgress, TaskView } from '../local/serve.js';
import type { TaskRecord, TraceRecord } from '../tracking/records.js';
import { layoutBusinessDag, layoutExecutionPlan } from './graph-layout.js';
import { renderGraphSvg } from './graph-svg.js';
import { renderPage } from './page.js';

/** What the web view reads from the server. */
export interface WebViewSource {
  readonly workflows: RegisteredWorkflows;
  taskView(taskId: string): Promise<TaskView | undefined>;
  taskRecord(taskId: string): Promise<TaskRecord | undefined>;
  traces(taskId: string): Promise<TraceRecord[]>;
  segmentProgress(taskId: string): SegmentProgress;
  recentTasks(workflow: string, limit: number): Promise<TaskRecord[]>;
}

const CLIENT_ENTRY = fileURLToPath(new URL('./client/app.ts', import.meta.url));

export class WebView {
  private readonly pictures = new Map<string, Promise<{ business: string; plan: string }>>();

  private constructor(private readonly script: string) {}

  static async create(): Promise<WebView> {
    return new WebView(await bundleClient());
  }

  mount(app: Hono, source: WebViewSource): void {
    const page = renderPage();
    app.get('/', (c) => c.html(page));
    app.get('/ui/app.js', (c) =>
      c.body(this.script, 200, {
        'content-type': 'text/javascript; charset=utf-8',
        'cache-control': 'no-cache',
      }),
    );

    app.get('/ui/api/workflows/:name/graphs', async (c) => {
      const raw = c.req.query('version');
      const version = raw === undefined ? undefined : Number(raw);
      if (version !== undefined && !(Number.isInteger(version) && version > 0))
        return c.json({ message: '?version takes a positive integer.' }, 400);
      const runnable = await source.workflows.get(c.req.param('name'), version);
      if (!runnable) return c.json({ message: `No workflow '${c.req.param('name')}'.` }, 404);
      const { record, compiled } = runnable;
      const key = `${record.name}@${record.version}`;
      let pictures = this.pictures.get(key);
      if (!pictures) {
        pictures = Promise.all([layoutBusinessDag(compiled.dag), layoutExecutionPlan(compiled.plan)]).then(
          ([business, plan]) => ({
            business: renderGraphSvg(business, { idPrefix: `b-${record.version}` }),
            plan: renderGraphSvg(plan, { idPrefix: `p-${record.version}` }),
          }),
        );
        this.pictures.set(key, pictures);
        pictures.catch(() => this.pictures.delete(key));
      }
      return c.json({ name: record.name, version: record.version, ...(await pictures) });
    });

    app.get('/ui/api/workflows/:name/tasks', async (c) => {
      const tasks = await source.recentTasks(c.req.param('name'), 25);
      return c.json({
        tasks: tasks.map((t) => ({
          taskId: t.taskId,
          status: t.status,
          createdAt: t.createdAt,
          ...(t.endedAt === undefined ? {} : { endedAt: t.endedAt }),
          ...(t.version === undefined ? {} : { version: t.version }),
        })),
      });
    });

    app.get('/ui/api/tasks/:taskId', async (c) => {
      const taskId = c.req.param('taskId');
      const [task, record, traces] = await Promise.all([
        source.taskView(taskId),
        source.taskRecord(taskId),
        source.traces(taskId),
      ]);
      if (!task) return c.json({ message: `No task '${taskId}'.` }, 404);
      return c.json({
        task,
        ...(record?.version === undefined ? {} : { version: record.version }),
        traces,
        progress: source.segmentProgress(taskId),
      });
    });
  }
}

/** The page's script as one ES module; esbuild strips the types and inlines the shared renderers. */
async function bundleClient(): Promise<string> {
  // esbuild comes with tsx (the CLI's loader); loaded only here, when a server starts.
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [CLIENT_ENTRY],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    legalComments: 'none',
  });
  return result.outputFiles[0]!.text;
}
