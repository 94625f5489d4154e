/** Number and cell formatting shared by the text, CSV and HTML renderings. */
import type { Cell, Column } from '../../lab/scenario.ts';

export function formatNumber(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 10 ** -digits || abs >= 1e15)) return value.toExponential(2);
  return value.toFixed(digits);
}

export function formatCell(value: Cell | undefined, column: Column): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return formatNumber(value, column.digits ?? 3);
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return value;
}

export function columnHeader(column: Column): string {
  return column.unit === undefined ? column.label : `${column.label} (${column.unit})`;
}
