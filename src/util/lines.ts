/**
 * Line sources for text inputs read a line at a time (block traces, kernel traces), and the error a
 * malformed line raises: the file, the 1-based line number and what was expected.
 *
 * A LineSource hands out lines without their terminator (`\n` or `\r\n`) and null at the end; a
 * source over a file (file-lines.ts) reads it in chunks, so inputs larger than memory stream.
 */
import { KmemError } from './errors.ts';

export interface LineSource {
  /** The next line without its terminator, or null at the end. */
  next(): string | null;
  close(): void;
}

/** A line of a trace that is not in the format it claims. */
export class TraceFormatError extends KmemError {
  override name = 'TraceFormatError';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly detail: string,
  ) {
    super(`${file}:${line}: ${detail}`);
  }
}

/** The lines of `text` (a last empty line after a final newline is not a line). */
export function textLines(text: string): LineSource {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  let i = 0;
  return {
    next: () => (i < lines.length ? (lines[i++] as string).replace(/\r$/, '') : null),
    close: () => {},
  };
}
