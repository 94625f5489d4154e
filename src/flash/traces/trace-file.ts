/**
 * A block trace read from a file, streamed in chunks (Node only: node:fs through util/file-lines.ts;
 * browsers read a trace's text with TraceReader.fromText).
 */
import { fileLines } from '../../util/file-lines.ts';
import type { TraceFormat } from './formats.ts';
import { TraceReader } from './reader.ts';

export function openTraceFile(path: string, format: TraceFormat): TraceReader {
  return TraceReader.over(fileLines(path), format, path);
}
