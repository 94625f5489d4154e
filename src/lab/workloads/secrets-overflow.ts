/**
 * The secrets scenario's overflow table: a neighbour's linear overflow of every length from 1 to
 * 4096 bytes past the end of a 48-byte buffer, in three places, and what catches it:
 *
 *   secret memory (secretAlloc)      the object ends at the trailing guard page (a PROT_NONE page),
 *                                    so the first byte past it faults: SegvError at that byte
 *   a kmalloc object KFENCE sampled  placed at its page's end before a guard page missing from the
 *                                    direct map: the kernel's write faults, KfenceError out-of-bounds
 *   ordinary memory (mmap)           the next page is the program's own: nothing faults, and the
 *                                    neighbour's bytes are overwritten (checked, so "not caught" is
 *                                    a measured outcome)
 *
 * Each attempt writes the buffer and the overflow in one copy (copy_to_user / a kernel memcpy), as a
 * bug would; the kernel validates afterwards.
 */
import { Kernel } from '../../mm/kernel.ts';
import { KfenceError, enableKfence } from '../../mm/secret/kfence.ts';
import { secretAlloc } from '../../mm/secret/secretmem.ts';
import { PAGE_SIZE } from '../../mm/types.ts';
import { SegvError } from '../../mm/vm/errors.ts';
import { DIRECT_MAP_BASE, MAP, PROT } from '../../mm/vm/types.ts';
import { InvariantError } from '../../util/errors.ts';

/** The buffer the overflow starts from. */
export const OVERFLOW_BUFFER_BYTES = 48;
/** Overflow lengths, grouped for the table: [from, to] inclusive. */
export const OVERFLOW_BUCKETS: readonly (readonly [number, number])[] = [
  [1, 1],
  [2, 16],
  [17, 256],
  [257, 4095],
  [4096, 4096],
];

export const OVERFLOW_PLACES = ['secret', 'kfence', 'ordinary'] as const;
export type OverflowPlace = (typeof OVERFLOW_PLACES)[number];

export interface OverflowRow {
  place: OverflowPlace;
  fromBytes: number;
  toBytes: number;
  attempts: number;
  caught: number;
  /** What caught them ('' when nothing did). */
  caughtBy: string;
}

/** Overflows of 1 … maxBytes past a buffer in each place; one row per place and bucket. */
export function overflowTable(maxBytes = PAGE_SIZE): OverflowRow[] {
  const kernel = Kernel.boot({ ramBytes: 8 << 20, cpus: 1 });
  const vm = kernel.vm;
  const mm = vm.createAddressSpace();
  const size = OVERFLOW_BUFFER_BYTES;
  const secret = secretAlloc(mm, size);
  const kfence = enableKfence(kernel, { sampleInterval: 0, objects: 3 });
  // Placement alternates between the page's end and its start: take the one that ends at the guard.
  let object = kfence.alloc(size, 'overflow-table') as number;
  if ((object + size) % PAGE_SIZE !== 0) object = kfence.alloc(size, 'overflow-table') as number;
  if ((object + size) % PAGE_SIZE !== 0) throw new InvariantError(`KFENCE object at 0x${object.toString(16)} does not end at a page edge`);
  const plain = mm.mmap(0, 2 * PAGE_SIZE, PROT.READ | PROT.WRITE, MAP.PRIVATE | MAP.ANONYMOUS);
  const plainBuffer = plain + PAGE_SIZE - size;
  const attempt: Record<OverflowPlace, (bytes: Uint8Array) => string> = {
    secret: (bytes) => {
      try {
        mm.write(secret.addr, bytes);
      } catch (error) {
        if (error instanceof SegvError && error.vaddr === secret.addr + size) return 'guard page: SIGSEGV at the first byte past';
        throw error;
      }
      return '';
    },
    kfence: (bytes) => {
      try {
        vm.kernelWrite(DIRECT_MAP_BASE + object, bytes);
      } catch (error) {
        if (error instanceof KfenceError && error.bug === 'out-of-bounds' && error.offset === size) return 'KFENCE guard page: out-of-bounds report';
        throw error;
      }
      return '';
    },
    ordinary: (bytes) => {
      mm.write(plainBuffer, bytes);
      const landed = mm.read(plain + PAGE_SIZE, bytes.length - size);
      if (!landed.every((b) => b === 0xee)) throw new InvariantError('the overflow did not reach the neighbouring page');
      mm.write(plain + PAGE_SIZE, new Uint8Array(bytes.length - size));
      return '';
    },
  };
  const rows: OverflowRow[] = [];
  for (const place of OVERFLOW_PLACES) {
    for (const [from, to] of OVERFLOW_BUCKETS) {
      if (from > maxBytes) continue;
      const row: OverflowRow = { place, fromBytes: from, toBytes: Math.min(to, maxBytes), attempts: 0, caught: 0, caughtBy: '' };
      for (let length = from; length <= row.toBytes; length++) {
        const bytes = new Uint8Array(size + length).fill(0xee);
        const by = attempt[place](bytes);
        row.attempts++;
        if (by !== '') {
          row.caught++;
          row.caughtBy = by;
        }
      }
      rows.push(row);
    }
  }
  kernel.validate();
  return rows;
}
