/** Tables as aligned plain text, numbers right-aligned, for the terminal. */
import type { ScenarioRun } from '../../lab/run.ts';
import type { ParamSpec, Table } from '../../lab/scenario.ts';
import { variabilityMark } from '../../lab/scenario.ts';
import { kebab } from '../../lab/params.ts';
import { SCENARIOS } from '../../lab/registry.ts';
import { columnFormatter, columnHeader, formatParam } from './format.ts';

export function renderTableText(table: Table): string {
  const headers = table.columns.map(columnHeader);
  const formatters = table.columns.map((c) => columnFormatter(table, c));
  const cells = table.rows.map((row) => table.columns.map((c, i) => formatters[i]?.(row[c.key]) ?? ''));
  const numeric = table.columns.map((c) => table.rows.every((row) => typeof row[c.key] === 'number' || row[c.key] === null));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const pad = (text: string, i: number): string => (numeric[i] ? text.padStart(widths[i] ?? 0) : text.padEnd(widths[i] ?? 0));
  const mark = variabilityMark(table);
  const lines = [mark === null ? table.title : `${table.title} (${mark})`, headers.map(pad).join('  ').trimEnd(), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const row of cells) lines.push(row.map(pad).join('  ').trimEnd());
  if (table.note !== undefined) lines.push(`  ${table.note}`);
  return lines.join('\n');
}

/** The parameters a run used, as they would be typed: `--ram-bytes 128MiB --steps 600000 …`. */
export function paramsLine(run: ScenarioRun): string {
  const specs: Readonly<Record<string, ParamSpec>> = SCENARIOS.find((s) => s.name === run.scenario)?.params ?? {};
  const words = Object.entries(run.params)
    .filter(([, value]) => value !== '')
    .map(([name, value]) => `--${kebab(name)} ${formatParam(specs[name], value)}`);
  return [...words, `--seed ${run.seed}`, ...(run.smoke ? ['--smoke'] : [])].join(' ');
}

export function renderRunText(run: ScenarioRun): string {
  const parts = [`== ${run.scenario}: ${run.title}`, `   ${run.question}`, '', `Answer: ${run.result.answer ?? ''}`, `Parameters used: ${paramsLine(run)}`, ''];
  for (const line of run.result.summary) parts.push(`* ${line}`);
  for (const table of run.result.tables) parts.push('', renderTableText(table));
  return parts.join('\n');
}
