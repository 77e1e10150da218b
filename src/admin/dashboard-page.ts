import { DASHBOARD_SCRIPT } from './dashboard-script.js';

/**
 * The dashboard's stylesheet: plain CSS, the state colours in one place (ready green,
 * starting/stopping amber, restarting purple, failed red, stopped grey), a dark palette for
 * `prefers-color-scheme: dark`, and one column in a window 400 px wide or less.
 */
export const DASHBOARD_STYLE = String.raw`
:root{--bg:#fff;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--card:#f6f8fa;--accent:#0969da;
--ready:#1a7f37;--busy:#9a6700;--restarting:#8250df;--failed:#cf222e;--stopped:#6e7781;color-scheme:light dark;
--mono:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--line:#3d444d;--card:#151b23;--accent:#4493f8;
--ready:#3fb950;--busy:#d29922;--restarting:#ab7df8;--failed:#f85149;--stopped:#9198a1}}
*{box-sizing:border-box}
body{margin:0;padding:12px 16px 32px;font:14px/1.45 system-ui,sans-serif;background:var(--bg);color:var(--fg)}
h1{font-size:18px;margin:0}h2{font-size:13px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);margin:18px 0 8px}
h3{font-size:15px;margin:0;overflow-wrap:anywhere}
code{font:12px/1.4 var(--mono)}
button{font:inherit;padding:4px 12px;border-radius:6px;border:1px solid var(--line);background:var(--card);color:var(--fg);cursor:pointer}

button:disabled{opacity:.55;cursor:default}button.primary{background:var(--accent);border-color:var(--accent);color:var(--bg)}
.top{display:flex;flex-wrap:wrap;align-items:baseline;gap:4px 16px;border-bottom:1px solid var(--line);padding-bottom:10px}
.top p{margin:0;color:var(--muted)}.top .reload{margin-left:auto}
#live{font-weight:600}#live[data-live=true]{color:var(--ready)}#live[data-live=false]{color:var(--busy)}
#conn{margin:10px 0;padding:8px 12px;border-radius:6px;border:1px solid var(--failed);color:var(--failed)}
#reload-panel{margin:12px 0;padding:0 12px 10px;border:1px solid var(--line);border-radius:8px;background:var(--card)}
#reload-diff{margin:0 0 10px;padding:8px;overflow-x:auto;background:var(--bg);border-radius:6px;font:12px/1.5 var(--mono)}
#reload-diff [data-sign="+"]{color:var(--ready)}#reload-diff [data-sign="-"]{color:var(--failed)}
#reload-diff [data-sign="~"]{color:var(--busy)}#reload-diff [data-sign="="]{color:var(--muted)}
.outcome{margin:6px 0 0;color:var(--muted)}.outcome.bad{color:var(--failed)}#reload-outcome:empty{margin:0}
.outcome .err{display:block}
#graph{overflow-x:auto;border:1px solid var(--line);border-radius:8px;padding:4px}
#graph svg{display:block;max-width:100%;height:auto}
[data-state]{--state:var(--stopped)}
[data-state=ready]{--state:var(--ready)}
[data-state=starting],[data-state=stopping]{--state:var(--busy)}
[data-state=restarting]{--state:var(--restarting)}
[data-state=failed]{--state:var(--failed)}
.node rect{fill:color-mix(in srgb,var(--state) 16%,var(--bg));stroke:var(--state);stroke-width:2.5}
.node .name{font-weight:600;font-size:13px;fill:var(--fg)}.node .sub{font-size:11px;fill:var(--muted)}
.edge{fill:none;stroke:var(--muted);stroke-width:1.4}.arrowhead{fill:var(--muted)}
#services{display:grid;grid-template-columns:repeat(auto-fill,minmax(270px,1fr));gap:12px}
.svc{border:1px solid var(--line);border-left:5px solid var(--state);border-radius:8px;padding:10px 12px;background:var(--card);min-width:0}
.svc header{display:flex;flex-wrap:wrap;align-items:baseline;gap:4px 8px}
.kind,.since{color:var(--muted);font-size:12px}.since{margin-left:auto}
.badge{display:inline-block;padding:0 8px;border-radius:10px;font-size:12px;font-weight:600;background:var(--state);color:var(--bg)}
.addr{margin:4px 0 0;font:12px var(--mono);color:var(--muted);overflow-wrap:anywhere}
.figs{display:flex;flex-wrap:wrap;gap:4px 16px;margin:8px 0 0}
.figs dt{font-size:11px;color:var(--muted)}.figs dd{margin:0;font-weight:600;font-variant-numeric:tabular-nums}
.why{margin:8px 0 0;color:var(--muted);overflow-wrap:anywhere}
.last{margin:8px 0 0;padding:6px 8px;border-radius:6px;background:var(--bg);overflow-wrap:anywhere;color:var(--muted)}
.last.now{color:var(--failed);border:1px solid var(--failed)}
.last .label{display:block;font-size:11px;text-transform:uppercase;letter-spacing:.05em}
.err code{font-weight:600}.err .at{font:12px var(--mono)}
.ops{display:flex;flex-wrap:wrap;align-items:baseline;gap:6px 8px;margin-top:10px}.ops .outcome{margin:0;flex:1 1 100%}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line)}th{font-size:12px;color:var(--muted)}
td.n,th.n{text-align:right}
@media (max-width:400px){body{padding:8px 10px 24px}#services{grid-template-columns:1fr}.top .reload{margin-left:0}}
`.replaceAll('\n', '');

/** The page's markup around the stylesheet and the script (filled in by the script). */
const BODY = `<header class="top">
<h1>hendrix</h1>
<p id="instance">connecting…</p>
<p><span id="manifest"></span> · fingerprint <code id="fingerprint">—</code> · <span id="live" data-live="false">connecting</span></p>
<div class="reload"><button type="button" id="reload-btn">Reload…</button></div>
</header>
<p id="conn" role="status" hidden></p>
<section id="reload-panel" aria-labelledby="reload-title" hidden>
<h2 id="reload-title">Reload: what would change</h2>
<pre id="reload-diff"></pre>
<button type="button" class="primary" id="reload-apply">Apply reload</button> <button type="button" id="reload-cancel">Cancel</button>
</section>
<p id="reload-outcome" class="outcome" role="status" aria-live="polite"></p>
<main>
<section aria-labelledby="graph-title"><h2 id="graph-title">Graph</h2><div id="graph"></div></section>
<section aria-labelledby="services-title"><h2 id="services-title">Services</h2><div id="services"></div></section>
<section id="workers" aria-labelledby="workers-title" hidden><h2 id="workers-title">Workers</h2>
<table><thead><tr><th>id</th><th>pid</th><th>state</th><th class="n">RSS</th><th class="n">requests</th><th class="n">restarts</th></tr></thead>
<tbody id="workers-body"></tbody></table></section>
</main>`;

/**
 * The dashboard page: one HTML document with its stylesheet and script inline (no build step,
 * no CDN, works offline), and the two inline texts its Content-Security-Policy hashes.
 */
export interface DashboardPage {
  readonly html: string;
  readonly style: string;
  readonly script: string;
}

/** Builds the dashboard page (src/admin/dashboard.ts serves it as `GET /dashboard`). */
export function dashboardPage(): DashboardPage {
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hendrix</title>
<link rel="icon" href="data:,">
<style>${DASHBOARD_STYLE}</style>
</head>
<body>
${BODY}
<script>${DASHBOARD_SCRIPT}</script>
</body>
</html>
`;
  return { html, style: DASHBOARD_STYLE, script: DASHBOARD_SCRIPT };
}
