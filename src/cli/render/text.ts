/** Tables as aligned plain text, numbers right-aligned, for the terminal. */
import type { ScenarioRun } from '../../lab/run.ts';
import type { Table } from '../../lab/scenario.ts';
import { columnHeader, formatCell } from './format.ts';

export function renderTableText(table: Table): string {
  const headers = table.columns.map(columnHeader);
  const cells = table.rows.map((row) => table.columns.map((c) => formatCell(row[c.key], c)));
  const numeric = table.columns.map((c) => table.rows.every((row) => typeof row[c.key] === 'number' || row[c.key] === null));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const pad = (text: string, i: number): string => (numeric[i] ? text.padStart(widths[i] ?? 0) : text.padEnd(widths[i] ?? 0));
  const lines = [table.title, headers.map(pad).join('  ').trimEnd(), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const row of cells) lines.push(row.map(pad).join('  ').trimEnd());
  if (table.note !== undefined) lines.push(`  ${table.note}`);
  return lines.join('\n');
}

export function renderRunText(run: ScenarioRun): string {
  const parts = [`== ${run.scenario}: ${run.title}`, `   ${run.question}`, ''];
  for (const line of run.result.summary) parts.push(`* ${line}`);
  for (const table of run.result.tables) parts.push('', renderTableText(table));
  return parts.join('\n');
}
