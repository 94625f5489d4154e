/**
 * The HTML report: one self-contained page with every scenario's summary, tables and SVG plots.
 * Deterministic for a given seed, apart from tables and plots marked `timing` or `scheduling`.
 */
import type { ScenarioRun } from '../../lab/run.ts';
import type { Table } from '../../lab/scenario.ts';
import { columnHeader, formatCell } from '../render/format.ts';
import { escapeXml, renderPlotSvg } from './svg.ts';

function tableHtml(table: Table): string {
  const head = table.columns.map((c) => `<th>${escapeXml(columnHeader(c))}</th>`).join('');
  const body = table.rows
    .map((row) => `<tr>${table.columns.map((c) => `<td${typeof row[c.key] === 'number' ? ' class="n"' : ''}>${escapeXml(formatCell(row[c.key], c))}</td>`).join('')}</tr>`)
    .join('\n');
  const note = table.note === undefined ? '' : `<p class="note">${escapeXml(table.note)}</p>`;
  const timing =
    table.timing === true
      ? ' <span class="timing">(wall-clock)</span>'
      : table.scheduling === true
        ? ' <span class="timing">(depends on scheduling: varies run to run)</span>'
        : '';
  return `<h3 id="${escapeXml(table.id)}">${escapeXml(table.title)}${timing}</h3>\n<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>${note}`;
}

const STYLE = `body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:0}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0;font-size:13px}th,td{border:1px solid #ddd;padding:3px 8px}
th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
.q{font-style:italic;color:#555}.note{font-size:12px;color:#555}.timing{font-size:11px;color:#a60}
.plots{display:flex;flex-wrap:wrap;gap:12px}code{background:#f4f4f4;padding:0 3px}`;

export function renderReportHtml(runs: readonly ScenarioRun[], seed: number): string {
  const toc = runs.map((r) => `<li><a href="#${escapeXml(r.scenario)}">${escapeXml(r.scenario)}</a>: ${escapeXml(r.title)}</li>`).join('\n');
  const sections = runs.map((run) => {
    const params = Object.entries(run.params)
      .map(([k, v]) => `<code>${escapeXml(k)}=${escapeXml(Array.isArray(v) ? v.join(',') : String(v))}</code>`)
      .join(' ');
    const summary = run.result.summary.map((line) => `<li>${escapeXml(line)}</li>`).join('\n');
    const tables = run.result.tables.map(tableHtml).join('\n');
    const plots = run.result.plots
      .map((p) => `<figure id="${escapeXml(p.id)}">${renderPlotSvg(p)}${p.note === undefined ? '' : `<figcaption class="note">${escapeXml(p.note)}</figcaption>`}</figure>`)
      .join('\n');
    return `<h2 id="${escapeXml(run.scenario)}">${escapeXml(run.scenario)}: ${escapeXml(run.title)}</h2>
<p class="q">${escapeXml(run.question)}</p>
<p>Parameters: ${params}</p>
<ul>${summary}</ul>
<div class="plots">${plots}</div>
${tables}`;
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kmem report</title><style>${STYLE}</style></head>
<body>
<h1>kmem report</h1>
<p>Every scenario run with its defaults, seed ${seed}. Regenerate with <code>npm start</code>.</p>
<ul>${toc}</ul>
${sections.join('\n')}
</body></html>
`;
}
