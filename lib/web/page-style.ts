// The style of the web view and of `dag run --report` (one look for both). No Node.js imports.

export const PAGE_CSS = `
:root { --fg: #18181b; --muted: #71717a; --line: #e4e4e7; --panel: #ffffff; --accent: #2563eb; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: var(--fg); background: #f4f4f5; }
body.report { padding: 24px 28px; background: #ffffff; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 15px; margin: 0 0 10px; }
a { color: var(--accent); }
.muted { color: var(--muted); }
.mono, code, pre, textarea, input.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 11.5px; font-weight: 600; letter-spacing: 0.02em; vertical-align: middle; background: #e4e4e7; color: #3f3f46; }
.badge.RUNNING { background: #dbeafe; color: #1d4ed8; }
.badge.WAITING { background: #fef3c7; color: #b45309; }
.badge.SUCCEEDED { background: #dcfce7; color: #15803d; }
.badge.FAILED, .badge.TIMED_OUT { background: #fee2e2; color: #b91c1c; }
.badge.ABORTED { background: #e4e4e7; color: #3f3f46; }
.pictures { display: flex; gap: 16px; align-items: flex-start; flex-wrap: wrap; margin-bottom: 16px; }
figure { margin: 0; background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 10px 12px; overflow: auto; max-width: 100%; }
figcaption { font-weight: 600; font-size: 11.5px; color: var(--muted); text-transform: uppercase; letter-spacing: 0.06em; margin-bottom: 6px; }
table { border-collapse: collapse; font-size: 13px; }
td, th { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { font-size: 11.5px; color: var(--muted); font-weight: 600; text-transform: uppercase; letter-spacing: 0.04em; }
.num { text-align: right; }
pre { background: #fafafa; border: 1px solid var(--line); padding: 10px 12px; border-radius: 8px; overflow: auto; max-height: 260px; font-size: 12px; margin: 0; }
.error { color: #b91c1c; }
section { margin-bottom: 18px; }
.app { display: grid; grid-template-columns: 250px minmax(0, 1fr); min-height: 100vh; }
.sidebar { background: #18181b; color: #d4d4d8; padding: 18px 14px; }
.sidebar .brand { color: #ffffff; font-weight: 700; font-size: 16px; text-decoration: none; display: block; margin: 0 8px 16px; }
.sidebar .brand span { color: #a1a1aa; font-weight: 400; }
.sidebar h3 { font-size: 11px; text-transform: uppercase; letter-spacing: 0.08em; color: #71717a; margin: 14px 8px 6px; }
.sidebar a.item { color: #e4e4e7; text-decoration: none; display: block; padding: 6px 8px; border-radius: 6px; }
.sidebar a.item small { display: block; color: #a1a1aa; font-size: 11.5px; }
.sidebar a.item:hover, .sidebar a.item.active { background: #3f3f46; }
main { padding: 22px 26px; min-width: 0; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; margin-bottom: 16px; }
.row { display: flex; gap: 16px; flex-wrap: wrap; align-items: flex-start; }
.row > .card { flex: 1 1 380px; }
textarea { width: 100%; min-height: 110px; padding: 8px 10px; border: 1px solid #d4d4d8; border-radius: 8px; font-size: 12.5px; resize: vertical; }
input[type=text] { padding: 6px 9px; border: 1px solid #d4d4d8; border-radius: 7px; font-size: 13px; }
button { font: inherit; font-size: 13px; font-weight: 600; padding: 6px 14px; border-radius: 7px; border: 1px solid #1d4ed8; background: #2563eb; color: #ffffff; cursor: pointer; }
button.secondary { background: #ffffff; color: #18181b; border-color: #d4d4d8; }
button.danger { background: #ffffff; color: #b91c1c; border-color: #fca5a5; }
button:disabled { opacity: 0.5; cursor: default; }
.actions { display: flex; gap: 8px; align-items: center; margin-top: 8px; flex-wrap: wrap; }
.notice { margin-top: 8px; font-size: 13px; }
.stats { display: flex; gap: 18px; flex-wrap: wrap; font-size: 13px; color: var(--muted); margin: 4px 0 14px; }
.stats b { color: var(--fg); font-weight: 600; }
.waiting-item { border: 1px solid #fcd34d; background: #fffbeb; border-radius: 8px; padding: 10px 12px; margin-bottom: 10px; }
.waiting-item textarea { min-height: 60px; background: #ffffff; }
.empty { color: var(--muted); font-style: italic; }
details summary { cursor: pointer; color: var(--muted); font-size: 13px; }
`;
