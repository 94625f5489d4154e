/**
 * A hand-written magazine kmalloc: the design kmem's kmalloc follows, without its checks and its
 * shared-memory state. Linux's size classes 8 … 512 by a size → class table; per class a loaded
 * and a previous magazine of kmem's default size (defaultMagazineRounds()), exchanged with a
 * depot of full and empty magazines, and refilled from one-page slabs cut by a bump pointer; free
 * finds the class from a page → class table. With `marker`, free also does kmem's double-free
 * check (read the object's first word, compare it with cookie ^ addr, write it) and alloc clears
 * it. One thread, no statistics, no validation, no address checks: it shows what kmem's checks and
 * arena state cost on top of the design itself. Written as closures, the fastest shape V8 gives
 * this code (cpu-slab.ts explains why).
 */
import { defaultMagazineRounds } from '../../src/mm/slab/layout.ts';

const PAGE_BYTES = 4096;
const CLASS_BYTES = [8, 16, 32, 64, 96, 128, 192, 256, 512] as const;
const MAGAZINE_WORDS = 64;
const MAX_MAGAZINES = 1 << 14;
const COOKIE = 0x2545f491;

export interface MagazineKmalloc {
  /** An object of at least `size` bytes (1 … 512). */
  malloc(size: number): number;
  free(addr: number): void;
  readonly buffer: ArrayBufferLike;
}

export function magazineKmalloc(arenaBytes: number, marker: boolean): MagazineKmalloc {
  const w = new Int32Array(arenaBytes / 4);
  const classCount = CLASS_BYTES.length;
  const classOfSize = Uint8Array.from({ length: 513 }, (_, size) => Math.max(0, CLASS_BYTES.findIndex((bytes) => bytes >= size)));
  const classOfPage = new Uint8Array(arenaBytes / PAGE_BYTES);
  const capacity = Int32Array.from(CLASS_BYTES, (bytes) => defaultMagazineRounds(bytes));
  const mags = new Int32Array(MAX_MAGAZINES * MAGAZINE_WORDS);
  let magazinesMade = 0;
  const newMagazine = (): number => {
    if (magazinesMade === MAX_MAGAZINES) throw new Error('magazine kmalloc: out of magazines');
    return magazinesMade++ * MAGAZINE_WORDS;
  };
  const loaded = Int32Array.from(CLASS_BYTES, newMagazine);
  const loadedRounds = new Int32Array(classCount);
  const prev = Int32Array.from(CLASS_BYTES, newMagazine);
  const prevRounds = new Int32Array(classCount);
  const depotFull: number[][] = CLASS_BYTES.map(() => []);
  const depotEmpty: number[][] = CLASS_BYTES.map(() => []);
  const inSlabs: number[][] = CLASS_BYTES.map(() => []);
  let nextPage = 1;

  const swap = (c: number): void => {
    const mag = loaded[c] as number;
    const rounds = loadedRounds[c] as number;
    loaded[c] = prev[c] as number;
    loadedRounds[c] = prevRounds[c] as number;
    prev[c] = mag;
    prevRounds[c] = rounds;
  };

  const refill = (c: number): void => {
    const free = inSlabs[c] as number[];
    for (let i = 0; i < (capacity[c] as number); i++) {
      if (free.length === 0) {
        if ((nextPage + 1) * PAGE_BYTES > arenaBytes) throw new Error('magazine kmalloc: arena full');
        const page = nextPage++;
        classOfPage[page] = c;
        const bytes = CLASS_BYTES[c] as number;
        for (let off = PAGE_BYTES - bytes; off >= 0; off -= bytes) free.push(page * PAGE_BYTES + off);
      }
      mags[(loaded[c] as number) + i] = free.pop() as number;
    }
    loadedRounds[c] = capacity[c] as number;
  };

  const allocSlow = (size: number, c: number): number => {
    if (prevRounds[c] === capacity[c]) swap(c);
    else {
      const full = (depotFull[c] as number[]).pop();
      if (full === undefined) refill(c);
      else {
        (depotEmpty[c] as number[]).push(prev[c] as number);
        prev[c] = loaded[c] as number;
        prevRounds[c] = 0;
        loaded[c] = full;
        loadedRounds[c] = capacity[c] as number;
      }
    }
    return malloc(size);
  };

  const freeSlow = (addr: number, c: number): void => {
    if (prevRounds[c] === 0) swap(c);
    else {
      (depotFull[c] as number[]).push(prev[c] as number);
      prev[c] = loaded[c] as number;
      prevRounds[c] = capacity[c] as number;
      loaded[c] = (depotEmpty[c] as number[]).pop() ?? newMagazine();
      loadedRounds[c] = 0;
    }
    push(addr, c);
  };

  const push = (addr: number, c: number): void => {
    const r = loadedRounds[c] as number;
    if (r >= (capacity[c] as number)) return freeSlow(addr, c);
    mags[(loaded[c] as number) + r] = addr;
    loadedRounds[c] = r + 1;
  };

  const malloc = (size: number): number => {
    const c = classOfSize[size] as number;
    const r = (loadedRounds[c] as number) - 1;
    if (r < 0) return allocSlow(size, c);
    loadedRounds[c] = r;
    const addr = mags[(loaded[c] as number) + r] as number;
    if (marker) w[addr >>> 2] = 0;
    return addr;
  };

  const free = (addr: number): void => {
    if (marker) {
      const m = addr >>> 2;
      if (w[m] === (COOKIE ^ addr)) throw new Error(`magazine kmalloc: double free of ${addr}`);
      w[m] = COOKIE ^ addr;
    }
    push(addr, classOfPage[addr >>> 12] as number);
  };

  return { malloc, free, buffer: w.buffer };
}
