/**
 * The HTML report: one self-contained page (inline SVG and CSS, no script, nothing fetched) with a
 * header saying where and when it was made, then per scenario its answer in one line, the parameters
 * it ran with, its summary, its charts (lab/chart.ts → Vega → SVG) and its tables. Readable at 800 px
 * and printable. Deterministic for a given seed and environment, apart from tables and plots marked
 * `timing` or `scheduling`.
 */
import type { ScenarioRun } from '../../lab/run.ts';
import type { Table } from '../../lab/scenario.ts';
import { variabilityMark } from '../../lab/scenario.ts';
import { columnFormatter, columnHeader } from '../render/format.ts';
import { paramsLine } from '../render/text.ts';
import { renderChartSvg } from './charts.ts';
import type { Environment } from './environment.ts';

/** Where `npm run explore` serves the explorer (scripts/explore.mjs, Vite on 127.0.0.1). */
export const EXPLORER_URL = 'http://127.0.0.1:5173/';

/** Text for XML or HTML, in element content or a double-quoted attribute. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function caveat(item: { timing?: boolean; scheduling?: boolean }): string {
  const mark = variabilityMark(item);
  return mark === null ? '' : ` <span class="timing">(${escapeXml(mark)})</span>`;
}

function tableHtml(table: Table): string {
  const head = table.columns.map((c) => `<th>${escapeXml(columnHeader(c))}</th>`).join('');
  const formatters = table.columns.map((c) => columnFormatter(table, c));
  const body = table.rows
    .map((row) => `<tr>${table.columns.map((c, i) => `<td${typeof row[c.key] === 'number' ? ' class="n"' : ''}>${escapeXml(formatters[i]?.(row[c.key]) ?? '')}</td>`).join('')}</tr>`)
    .join('\n');
  const note = table.note === undefined ? '' : `<p class="note">${escapeXml(table.note)}</p>`;
  return `<h3 id="${escapeXml(table.id)}">${escapeXml(table.title)}${caveat(table)}</h3>\n<div class="scroll"><table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></div>${note}`;
}

const STYLE = `body{font-family:system-ui,sans-serif;max-width:980px;margin:1.5em auto;padding:0 12px;color:#222;line-height:1.4}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0;font-size:13px}th,td{border:1px solid #ddd;padding:3px 8px}
th{background:#f4f4f4;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.scroll{overflow-x:auto}.env td:first-child{font-weight:600}
.q{font-style:italic;color:#555}.answer{font-size:1.1em;background:#eef6ee;border-left:4px solid #4a4;padding:.4em .8em}
.note{font-size:12px;color:#555}.timing{font-size:11px;color:#a60}.params{font-size:12px;word-break:break-word}
figure{margin:1em 0;break-inside:avoid}figure svg{display:block}code{background:#f4f4f4;padding:0 3px}
@media print{body{max-width:none;margin:0}h2{break-before:page}.scroll{overflow:visible}}`;

function environmentHtml(env: Environment, seed: number, smoke: boolean): string {
  const rows: [string, string][] = [
    ['date', env.date],
    ['commit', env.commit],
    ['CPU', `${env.cpuModel}, ${env.cores} cores`],
    ['Node.js', env.node],
    ['GPU adapter', env.gpuAdapter],
    ['seed', String(seed)],
    ['mode', smoke ? '--smoke (a quick check: small runs whose figures mean little)' : 'full runs'],
  ];
  return `<table class="env"><tbody>${rows.map(([k, v]) => `<tr><td>${escapeXml(k)}</td><td>${escapeXml(v)}</td></tr>`).join('')}</tbody></table>`;
}

export async function renderReportHtml(runs: readonly ScenarioRun[], seed: number, env: Environment): Promise<string> {
  const toc = runs.map((r) => `<li><a href="#${escapeXml(r.scenario)}">${escapeXml(r.scenario)}</a>: ${escapeXml(r.result.answer ?? '')}</li>`).join('\n');
  const sections: string[] = [];
  for (const run of runs) {
    const summary = run.result.summary.map((line) => `<li>${escapeXml(line)}</li>`).join('\n');
    const tables = run.result.tables.map(tableHtml).join('\n');
    const plots: string[] = [];
    for (const p of run.result.plots) {
      const note = p.note === undefined ? '' : `<figcaption class="note">${escapeXml(p.note)}</figcaption>`;
      const tag = caveat(p) === '' ? '' : `<figcaption>${caveat(p)}</figcaption>`;
      plots.push(`<figure id="${escapeXml(p.id)}">${tag}${await renderChartSvg(p)}${note}</figure>`);
    }
    sections.push(`<section><h2 id="${escapeXml(run.scenario)}">${escapeXml(run.scenario)}: ${escapeXml(run.title)}</h2>
<p class="answer"><b>Answer:</b> ${escapeXml(run.result.answer ?? '')}</p>
<p class="q">${escapeXml(run.question)}</p>
<p class="params">Parameters used (${(run.elapsedMs / 1000).toFixed(1)} s): <code>${escapeXml(paramsLine(run))}</code></p>
<ul>${summary}</ul>
${plots.join('\n')}
${tables}</section>`);
  }
  const smoke = runs.some((r) => r.smoke);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>kmem report</title><style>${STYLE}</style></head>
<body>
<h1>kmem report</h1>
${environmentHtml(env, seed, smoke)}
<p>Regenerate with <code>npm start</code>. To watch a kernel's memory live — every page frame, the buddy lists, the slab caches, two designs side by side — run <code>npm run explore</code> and open <a href="${EXPLORER_URL}">${EXPLORER_URL}</a> (the explorer, docs/explorer.md).</p>
<p>Answers:</p>
<ul>${toc}</ul>
${sections.join('\n')}
</body></html>
`;
}
