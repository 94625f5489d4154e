/**
 * Sizes with units: parsing '256MiB', '4 KiB', '2M', '4096' into bytes, and formatting bytes back.
 * Binary prefixes (KiB, MiB, GiB) are powers of 1024; so are the bare K, M and G of kernel
 * command lines (`mem=512M`). Decimal prefixes (kB, MB, GB) are powers of 1000.
 */
import { ArgumentError } from './errors.ts';

const UNIT_BYTES: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  tb: 1000 ** 4,
};

/** Parses a byte size: a non-negative integer number of bytes, or a number with a unit. */
export function parseSizeBytes(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input) || input < 0) {
      throw new ArgumentError(`size: expected a non-negative whole number of bytes, got ${input}`);
    }
    return input;
  }
  if (/^\s*-/.test(input)) {
    throw new ArgumentError(`size: '${input}' is negative: expected a non-negative number of bytes, or one with a unit (KiB, MiB, GiB)`);
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(input);
  const unit = match?.[2]?.toLowerCase();
  const scale = unit === undefined ? undefined : UNIT_BYTES[unit];
  if (match === null || scale === undefined) {
    throw new ArgumentError(
      `size: cannot read '${input}': expected bytes or a number with a unit (KiB, MiB, GiB, K, M, G, kB, MB, GB)`,
    );
  }
  const bytes = Number(match[1]) * scale;
  if (!Number.isSafeInteger(bytes)) {
    throw new ArgumentError(`size: '${input}' is not a whole number of bytes`);
  }
  return bytes;
}

/** Formats bytes with the largest binary unit that divides them exactly, else with two decimals. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;
  let value = bytes;
  let i = 0;
  while (i < units.length - 1 && Math.abs(value) >= 1024) {
    value /= 1024;
    i++;
  }
  const text = Number.isInteger(value) ? String(value) : value.toFixed(2);
  return `${text} ${units[i]}`;
}

/**
 * Bytes as a size that reads back as the same number (parseSizeBytes): the largest binary unit that
 * divides them exactly, no space ('64MiB', '250000KiB'), else bare bytes ('1000000001').
 */
export function formatSizeExact(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'] as const;
  let unit = '';
  let value = bytes;
  for (const next of units) {
    if (value === 0 || value % 1024 !== 0) break;
    value /= 1024;
    unit = next;
  }
  return `${value}${unit}`;
}
