// The one HTML page of the web view: a sidebar of workflows and a main area the script fills in.
import { PAGE_CSS } from './page-style.js';

export function renderPage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dag serve</title>
<link rel="icon" href="data:,">
<style>${PAGE_CSS}</style>
</head>
<body>
<div class="app">
<nav class="sidebar">
<a class="brand" href="#/">dag serve <span>· media DAGs</span></a>
<h3>Workflows</h3>
<div id="workflow-list"></div>
<h3>API</h3>
<a class="item" href="/workflows">GET /workflows</a>
</nav>
<main><p class="muted">Loading…</p></main>
</div>
<script type="module" src="/ui/app.js"></script>
</body>
</html>
`;
}
