/**
 * A LineSource over a file, read in 64 KiB chunks so that a trace larger than memory streams.
 * Node-only (node:fs); the text source in lines.ts serves browsers.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { LineSource } from './lines.ts';

const CHUNK_BYTES = 1 << 16;

export function fileLines(path: string): LineSource {
  const fd = openSync(path, 'r');
  const chunk = Buffer.alloc(CHUNK_BYTES);
  const decoder = new TextDecoder('utf-8');
  let pending: string[] = [];
  let head = 0;
  let partial = '';
  let done = false;
  let open = true;
  return {
    next(): string | null {
      while (head >= pending.length) {
        if (done) return null;
        const n = readSync(fd, chunk, 0, CHUNK_BYTES, null);
        let text = partial + decoder.decode(chunk.subarray(0, n), { stream: n > 0 });
        if (n === 0) {
          done = true;
          partial = '';
          if (text === '') return null;
        } else {
          const cut = text.lastIndexOf('\n');
          partial = text.slice(cut + 1);
          text = text.slice(0, cut + 1);
        }
        pending = text.split('\n');
        if (!done) pending.pop();
        head = 0;
      }
      return (pending[head++] as string).replace(/\r$/, '');
    },
    close(): void {
      if (open) closeSync(fd);
      open = false;
    },
  };
}
