/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The web view's script, bundled by esbuild when `dag serve` starts. It reads only the HTTP API of
// dag-spec §9 and the server's /ui/api helpers; pictures come from the server as SVG (laid out by elkjs
// there) and are coloured here by task status.
import { formatDuration, renderGantt } from '../gantt.js';
import { boxStatus } from '../graph-svg.js';

interface TaskView {
  taskId: string;
  workflow: string;
  status: string;
  output?: unknown;
  error?: { error: string; cause: string };
  events: {
    eventId: string;
    node: string;
    type: string;
    status: string;
    attempts: number;
    startedAt: string;
    endedAt?: string;
  }[];
  segments: { segmentId: string; eventId: string; order: number; status: string; attempts: number }[];
  stats: { stateTransitions: number; durationMs: number };
}

interface TaskDetail {
  task: TaskView;
  version?: number;
  traces: Parameters<typeof renderGantt>[0]['traces'];
  progress: Record<string, { done: number; total: number }>;
}

interface WorkflowSummary {
  name: string;
  version: number;
  description?: string;
  createdAt: string;
}

interface Graphs {
  name: string;
  version: number;
  business: string;
  plan: string;
}

const POLL_MS = 600;

const main = document.querySelector('main')!;
const sidebarList = document.getElementById('workflow-list')!;
let stopPolling: (() => void) | undefined;
const graphCache = new Map<string, Promise<Graphs>>();

// ---- helpers ---------------------------------------------------------------------------------------

type Child = Node | string | undefined | false;

function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes))
    if (value !== undefined) element.setAttribute(name, value);
  for (const child of children) if (child !== undefined && child !== false) element.append(child);
  return element;
}

async function api(method: string, path: string, body?: string, headers: Record<string, string> = {}) {
  const response = await fetch(path, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = { message: text };
  }
  return { status: response.status, json };
}

/** replaceChildren that skips absent children. */
function fill(parent: Element, ...children: Child[]): void {
  parent.replaceChildren(...children.filter((c): c is Node | string => c !== undefined && c !== false));
}

function badge(status: string): HTMLElement {
  return h('span', { class: `badge ${status}`, 'data-status': status }, status);
}

function svgFrom(markup: string): Element {
  const holder = document.createElement('div');
  holder.innerHTML = markup;
  return holder.firstElementChild ?? holder;
}

function graphsOf(name: string, version?: number): Promise<Graphs> {
  const key = `${name}@${version ?? 'latest'}`;
  let known = graphCache.get(key);
  if (!known) {
    known = api(
      'GET',
      `/ui/api/workflows/${encodeURIComponent(name)}/graphs${version ? `?version=${version}` : ''}`,
    ).then(({ status, json }) => {
      if (status !== 200) throw new Error(String(json.message ?? status));
      return json as unknown as Graphs;
    });
    graphCache.set(key, known);
    known.catch(() => graphCache.delete(key));
  }
  return known;
}

function pretty(value: unknown): string {
  return JSON.stringify(value ?? null, null, 2);
}

// ---- sidebar -----------------------------------------------------------------------------------------

async function refreshSidebar(): Promise<void> {
  const { json } = await api('GET', '/workflows');
  const workflows = (json.workflows ?? []) as WorkflowSummary[];
  const current = location.hash;
  sidebarList.replaceChildren(
    ...(workflows.length === 0
      ? [h('p', { class: 'empty', style: 'margin: 0 8px' }, 'none registered yet')]
      : []),
    ...workflows.map((w) =>
      h(
        'a',
        {
          class: `item${current === `#/workflows/${w.name}` ? ' active' : ''}`,
          href: `#/workflows/${encodeURIComponent(w.name)}`,
          'data-workflow': w.name,
        },
        w.name,
        h('small', {}, `v${w.version}${w.description ? ` · ${w.description}` : ''}`),
      ),
    ),
  );
}

// ---- home: register a workflow -----------------------------------------------------------------------

const SAMPLE = `name: hello
description: A sync node, then a router.
input:
  type: object
  required: [x]
  properties:
    x: { type: number }
nodes:
  begin: { type: start, next: echo }
  echo: { type: sync, operator: test/echo, input: { x: $.input.x }, next: big }
  big:
    type: router
    routes:
      - when: "input.x > 10"
        next: done
    default: done
  done: { type: end }
`;

function showHome(): void {
  const source = h('textarea', {
    id: 'workflow-source',
    class: 'mono',
    spellcheck: 'false',
    style: 'min-height: 300px',
  });
  source.value = SAMPLE;
  const notice = h('div', { class: 'notice', id: 'register-notice' });
  const register = h('button', { id: 'register-workflow' }, 'Register');
  register.addEventListener('click', async () => {
    register.disabled = true;
    const { status, json } = await api('POST', '/workflows', source.value, {
      'content-type': 'application/yaml',
    });
    register.disabled = false;
    if (status === 201) {
      await refreshSidebar();
      location.hash = `#/workflows/${encodeURIComponent(String(json.name))}`;
      return;
    }
    const diagnostics = (json.diagnostics ?? []) as {
      code: string;
      message: string;
      line?: number;
      column?: number;
    }[];
    notice.replaceChildren(
      h('p', { class: 'error' }, String(json.message ?? `Refused (${status}).`)),
      ...diagnostics.map((d) =>
        h('div', { class: 'error mono' }, `${d.line ?? 1}:${d.column ?? 1} ${d.code}: ${d.message}`),
      ),
    );
  });
  main.replaceChildren(
    h('h1', {}, 'Workflows'),
    h(
      'p',
      { class: 'muted' },
      'Pick a workflow on the left to see its business DAG and execution plan and to run tasks, or register one (POST /workflows).',
    ),
    h(
      'div',
      { class: 'card' },
      h('h2', {}, 'Register a workflow'),
      source,
      h('div', { class: 'actions' }, register),
      notice,
    ),
  );
}

// ---- a workflow --------------------------------------------------------------------------------------

/** A first input from the schema: required string properties empty, numbers 0, and so on. */
function sampleInput(schema: unknown): unknown {
  const s = schema as
    | { type?: string; required?: string[]; properties?: Record<string, { type?: string; enum?: unknown[] }> }
    | undefined;
  if (s?.type !== 'object') return {};
  const sample: Record<string, unknown> = {};
  for (const name of s.required ?? []) {
    const property = s.properties?.[name];
    sample[name] =
      property?.enum?.[0] ??
      (property?.type === 'number' || property?.type === 'integer'
        ? 0
        : property?.type === 'boolean'
          ? false
          : property?.type === 'array'
            ? []
            : property?.type === 'object'
              ? {}
              : '');
  }
  return sample;
}

async function showWorkflow(name: string): Promise<void> {
  main.replaceChildren(h('p', { class: 'muted' }, `Loading ${name}…`));
  const [{ status, json }, graphs] = await Promise.all([
    api('GET', `/workflows/${encodeURIComponent(name)}`),
    graphsOf(name).catch(() => undefined),
  ]);
  if (status !== 200 || !graphs) {
    main.replaceChildren(h('p', { class: 'error' }, String(json.message ?? `No workflow ${name}.`)));
    return;
  }
  const input = h('textarea', { id: 'task-input', class: 'mono', spellcheck: 'false' });
  input.value = pretty(sampleInput(json.input));
  const key = h('input', {
    type: 'text',
    id: 'idempotency-key',
    class: 'mono',
    placeholder: 'Idempotency-Key (optional)',
  });
  const notice = h('div', { class: 'notice' });
  const submit = h('button', { id: 'submit-task' }, 'Submit task');
  submit.addEventListener('click', async () => {
    submit.disabled = true;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (key.value.trim()) headers['idempotency-key'] = key.value.trim();
    const answer = await api('POST', `/workflows/${encodeURIComponent(name)}/tasks`, input.value, headers);
    submit.disabled = false;
    if (answer.status === 202) {
      location.hash = `#/tasks/${answer.json.taskId}`;
      return;
    }
    notice.replaceChildren(
      h(
        'span',
        { class: 'error' },
        `${answer.status}: ${String(answer.json.message)}${answer.json.path !== undefined ? ` (at '${answer.json.path}')` : ''}`,
      ),
    );
  });
  const tasks = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  fill(
    main,
    h('h1', {}, name, ' ', h('span', { class: 'muted', style: 'font-weight: 400' }, `v${json.version}`)),
    json.description ? h('p', { class: 'muted' }, String(json.description)) : undefined,
    pictures(graphs),
    h(
      'div',
      { class: 'row' },
      h(
        'div',
        { class: 'card' },
        h('h2', {}, 'Submit a task'),
        input,
        h('div', { class: 'actions' }, submit, key),
        notice,
      ),
      h('div', { class: 'card' }, h('h2', {}, 'Recent tasks'), tasks),
    ),
    h('details', { class: 'card' }, h('summary', {}, 'Workflow file'), h('pre', {}, String(json.source))),
  );
  const recent = await api('GET', `/ui/api/workflows/${encodeURIComponent(name)}/tasks`);
  const list = (recent.json.tasks ?? []) as { taskId: string; status: string; createdAt: string }[];
  tasks.replaceChildren(
    list.length === 0
      ? h('p', { class: 'empty' }, 'No task yet.')
      : h(
          'table',
          {},
          h(
            'tbody',
            {},
            ...list.map((t) =>
              h(
                'tr',
                {},
                h('td', {}, h('a', { href: `#/tasks/${t.taskId}`, class: 'mono' }, t.taskId.slice(0, 18))),
                h('td', {}, badge(t.status)),
                h('td', { class: 'muted' }, new Date(t.createdAt).toLocaleString()),
              ),
            ),
          ),
        ),
  );
}

function pictures(graphs: Graphs): HTMLElement {
  return h(
    'div',
    { class: 'pictures' },
    h('figure', { id: 'business-dag' }, h('figcaption', {}, 'Business DAG'), svgFrom(graphs.business)),
    h('figure', { id: 'execution-plan' }, h('figcaption', {}, 'Execution plan'), svgFrom(graphs.plan)),
  );
}

// ---- a task ------------------------------------------------------------------------------------------

async function showTask(taskId: string): Promise<void> {
  main.replaceChildren(h('p', { class: 'muted' }, `Loading task ${taskId}…`));
  const first = await api('GET', `/ui/api/tasks/${encodeURIComponent(taskId)}`);
  if (first.status !== 200) {
    main.replaceChildren(h('p', { class: 'error' }, String(first.json.message ?? `No task ${taskId}.`)));
    return;
  }
  let detail = first.json as unknown as TaskDetail;
  const graphs = await graphsOf(detail.task.workflow, detail.version);
  const status = h('span', { id: 'task-status' });
  const stats = h('div', { class: 'stats' });
  const abort = h('button', { class: 'danger', id: 'abort-task' }, 'Abort');
  abort.addEventListener('click', async () => {
    abort.disabled = true;
    await api('POST', `/tasks/${encodeURIComponent(taskId)}/abort`);
  });
  const waiting = h('div', { id: 'waiting' });
  const waitingCard = h(
    'section',
    { class: 'card', id: 'waiting-card' },
    h('h2', {}, 'Waiting for callbacks'),
    waiting,
  );
  const gantt = h('div', { id: 'gantt', style: 'overflow-x: auto' });
  const result = h('div', { id: 'result' });
  const picture = pictures(graphs);
  main.replaceChildren(
    h(
      'h1',
      {},
      h('a', { href: `#/workflows/${encodeURIComponent(detail.task.workflow)}` }, detail.task.workflow),
      ' task ',
      status,
    ),
    h('p', { class: 'muted mono' }, taskId),
    stats,
    picture,
    waitingCard,
    h('section', { class: 'card' }, h('h2', {}, 'Traces'), gantt),
    h('section', { class: 'card' }, h('h2', {}, 'Result'), result),
  );

  let waitingKey = '';
  const render = () => {
    const task = detail.task;
    const ended = task.status !== 'RUNNING';
    status.replaceChildren(badge(task.status));
    fill(
      stats,
      h('span', {}, 'took ', h('b', {}, formatDuration(task.stats.durationMs))),
      h('span', {}, h('b', {}, String(task.stats.stateTransitions)), ' state transitions'),
      h('span', {}, h('b', {}, String(detail.traces.length)), ' traces'),
      h('span', {}, h('b', {}, String(task.events.length)), ' events'),
      !ended && abort,
    );
    colour(picture, task, detail.progress, ended);
    const items = waitingWork(task);
    const key = items.map((i) => `${i.id}#${i.attempt}`).join(',');
    // Once the task has ended nothing can wait any more: the card goes away.
    waitingCard.hidden = ended && items.length === 0;
    if (key !== waitingKey) {
      waitingKey = key;
      waiting.replaceChildren(
        ...(items.length === 0
          ? [
              h(
                'p',
                { class: 'empty' },
                ended ? 'Nothing waits: the task has ended.' : 'Nothing waits for a callback now.',
              ),
            ]
          : items.map(callbackForm)),
      );
    }
    gantt.innerHTML = renderGantt({
      events: task.events,
      traces: detail.traces,
      segments: task.segments,
      width: Math.max(640, gantt.clientWidth - 4),
    });
    fill(
      result,
      task.error
        ? h('p', { class: 'error' }, h('b', {}, task.error.error), `: ${task.error.cause}`)
        : undefined,
      task.output !== undefined ? h('pre', { id: 'task-output' }, pretty(task.output)) : undefined,
      !task.error && task.output === undefined
        ? h('p', { class: 'empty' }, ended ? 'No output.' : 'Running…')
        : undefined,
    );
  };
  render();
  if (detail.task.status !== 'RUNNING') return;
  let stopped = false;
  stopPolling = () => {
    stopped = true;
  };
  while (!stopped) {
    await new Promise((resume) => setTimeout(resume, POLL_MS));
    if (stopped) break;
    const next = await api('GET', `/ui/api/tasks/${encodeURIComponent(taskId)}`);
    if (next.status !== 200 || stopped) continue;
    detail = next.json as unknown as TaskDetail;
    render();
    if (detail.task.status !== 'RUNNING') break;
  }
}

/** Sets data-status on every box of both pictures, and the segment progress of parallel nodes. */
function colour(
  picture: HTMLElement,
  task: TaskView,
  progress: TaskDetail['progress'],
  ended: boolean,
): void {
  const statuses: Record<string, string> = Object.fromEntries(task.events.map((e) => [e.node, e.status]));
  for (const box of picture.querySelectorAll<SVGGElement>('[data-nodes]')) {
    const nodes = (box.getAttribute('data-nodes') ?? '').split(' ').filter(Boolean);
    const status = boxStatus(nodes, statuses, ended);
    if (status === undefined) box.removeAttribute('data-status');
    else box.setAttribute('data-status', status);
    const bar = box.querySelector(':scope > .progress');
    if (!bar || nodes.length !== 1) continue;
    const counts = segmentCounts(task, nodes[0]!, progress);
    if (!counts) continue;
    bar.classList.add('shown');
    const width = Number(bar.getAttribute('data-width'));
    const fraction = counts.total > 0 ? Math.min(1, counts.done / counts.total) : 0;
    bar.querySelector('.bar')?.setAttribute('width', String(width * fraction));
    const count = bar.querySelector('.count');
    if (count) count.textContent = `${counts.done}/${counts.total > 0 ? counts.total : '?'}`;
  }
}

function segmentCounts(task: TaskView, node: string, progress: TaskDetail['progress']) {
  const live = progress[node];
  const eventId = `${task.taskId}_${node}`;
  const segments = task.segments.filter((s) => s.eventId === eventId);
  const finished = segments.filter((s) => s.status === 'SUCCEEDED' || s.status === 'FAILED').length;
  if (live)
    return { done: Math.max(live.done, finished), total: live.total > 0 ? live.total : segments.length };
  return segments.length > 0 ? { done: finished, total: segments.length } : undefined;
}

interface WaitingWork {
  id: string;
  node: string;
  attempt: number;
  since: string;
}

function waitingWork(task: TaskView): WaitingWork[] {
  const items: WaitingWork[] = [];
  for (const e of task.events)
    if (e.status === 'WAITING')
      items.push({ id: e.eventId, node: e.node, attempt: e.attempts, since: e.startedAt });
  for (const s of task.segments)
    if (s.status === 'WAITING') {
      const node = task.events.find((e) => e.eventId === s.eventId)?.node ?? '?';
      items.push({ id: s.segmentId, node: `${node} #${s.order}`, attempt: s.attempts, since: '' });
    }
  return items;
}

function callbackForm(item: WaitingWork): HTMLElement {
  const output = h('textarea', { class: 'mono', spellcheck: 'false', 'data-callback-output': item.id });
  output.value = '{}';
  const answer = h('span', { class: 'notice' });
  const send = (status: 'SUCCEEDED' | 'FAILED' | 'HEARTBEAT') => async () => {
    let body: Record<string, unknown> = { attempt: item.attempt, status };
    if (status === 'SUCCEEDED') {
      try {
        body = { ...body, output: JSON.parse(output.value || 'null') };
      } catch {
        answer.replaceChildren(h('span', { class: 'error' }, 'The output is not JSON.'));
        return;
      }
    }
    if (status === 'FAILED') body = { ...body, error: { error: 'RejectedInWebView', cause: output.value } };
    const { status: code, json } = await api(
      'POST',
      `/callbacks/${encodeURIComponent(item.id)}`,
      JSON.stringify(body),
      {
        'content-type': 'application/json',
      },
    );
    answer.replaceChildren(
      h('span', { class: code === 202 ? 'muted' : 'error' }, `${code} ${String(json.message ?? '')}`),
    );
  };
  const buttons = (['SUCCEEDED', 'FAILED', 'HEARTBEAT'] as const).map((status) => {
    const button = h(
      'button',
      { class: status === 'SUCCEEDED' ? '' : 'secondary', 'data-callback': status },
      status.toLowerCase(),
    );
    button.addEventListener('click', send(status));
    return button;
  });
  return h(
    'div',
    { class: 'waiting-item', 'data-waiting': item.id },
    h('div', {}, h('b', {}, item.node), ` · attempt ${item.attempt}`),
    h(
      'div',
      { class: 'muted mono', style: 'font-size: 12px; margin: 2px 0 6px' },
      `POST /callbacks/${item.id}`,
    ),
    output,
    h('div', { class: 'actions' }, ...buttons, answer),
  );
}

// ---- routing -----------------------------------------------------------------------------------------

async function route(): Promise<void> {
  stopPolling?.();
  stopPolling = undefined;
  const hash = decodeURIComponent(location.hash.replace(/^#\/?/, ''));
  const [kind, id] = [hash.slice(0, hash.indexOf('/')), hash.slice(hash.indexOf('/') + 1)];
  for (const link of sidebarList.querySelectorAll('a.item'))
    link.classList.toggle('active', kind === 'workflows' && link.getAttribute('data-workflow') === id);
  try {
    if (kind === 'workflows' && id) await showWorkflow(id);
    else if (kind === 'tasks' && id) await showTask(id);
    else showHome();
  } catch (error) {
    main.replaceChildren(h('p', { class: 'error' }, `The page broke: ${(error as Error).message}`));
  }
}

window.addEventListener('hashchange', () => void route());
void refreshSidebar().then(route);
setInterval(() => void refreshSidebar(), 5_000);
