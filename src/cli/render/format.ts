/**
 * Number, cell and parameter formatting shared by the text, CSV and HTML renderings. A column reads
 * consistently: when any of its numbers has a fraction, every number in it gets the column's digits
 * (1.07, 1.10, 2.00, not 1.0700 and 2), and no cell switches to exponent notation.
 */
import type { Cell, Column, ParamSpec, Table } from '../../lab/scenario.ts';
import { formatSizeExact } from '../../util/units.ts';

/** Fixed-point with `digits` decimals; a value that would round to zero keeps two significant digits. */
export function formatNumber(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && abs < 0.5 * 10 ** -digits) return Number(value.toPrecision(2)).toFixed(Math.min(20, 1 - Math.floor(Math.log10(abs))));
  return value.toFixed(digits);
}

/** Whether any number in the column has a fraction: then every number in it is written with its digits. */
function fractional(table: Table, column: Column): boolean {
  return table.rows.some((row) => {
    const v = row[column.key];
    return typeof v === 'number' && !Number.isInteger(v);
  });
}

/** A formatter for the cells of one column of a table. */
export function columnFormatter(table: Table, column: Column): (value: Cell | undefined) => string {
  const digits = column.digits ?? 3;
  const fixed = fractional(table, column);
  return (value) => {
    if (value === null || value === undefined) return '';
    if (typeof value === 'number') return fixed && Number.isFinite(value) ? value.toFixed(digits) : formatNumber(value, digits);
    if (typeof value === 'boolean') return value ? 'yes' : 'no';
    return value;
  };
}

export function columnHeader(column: Column): string {
  return column.unit === undefined ? column.label : `${column.label} (${column.unit})`;
}

/** A parameter's value as a person reads it: sizes in binary units, lists comma-separated. */
export function formatParam(spec: ParamSpec | undefined, value: unknown): string {
  // As it can be typed back: 256MB is 250000KiB, not 244.14MiB.
  if (spec?.kind === 'size' && typeof value === 'number') return formatSizeExact(value);
  if (Array.isArray(value)) return value.join(',');
  if (value === '') return "''";
  return String(value);
}
