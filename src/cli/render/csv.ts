/** Tables as CSV (RFC 4180 quoting); several tables are separated by a blank line and a `# id` line. */
import type { ScenarioRun } from '../../lab/run.ts';
import type { Table } from '../../lab/scenario.ts';
import { columnHeader } from './format.ts';

function quote(text: string): string {
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function renderTableCsv(table: Table): string {
  const lines = [table.columns.map((c) => quote(columnHeader(c))).join(',')];
  for (const row of table.rows) {
    lines.push(
      table.columns
        .map((c) => {
          const v = row[c.key];
          return v === null || v === undefined ? '' : quote(String(v));
        })
        .join(','),
    );
  }
  return lines.join('\n');
}

export function renderRunCsv(run: ScenarioRun): string {
  return run.result.tables.map((t) => `# ${t.id}\n${renderTableCsv(t)}`).join('\n\n');
}
