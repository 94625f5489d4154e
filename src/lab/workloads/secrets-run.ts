/**
 * One run of the secrets scenario: a program holds three keys (random bytes) — one in secret memory
 * (secretAlloc: memfd_secret's region, tagged Sensitive | NoSave | NoDump | Mlocked, wiped by the
 * kernel on free), one in ordinary memory the program protects as OpenSSL's secure heap does (mlock,
 * MADV_DONTDUMP, and a wipe before free; NoSave is set on its pages by hand, as no system call sets
 * it), one in ordinary memory untagged — while the machine is under allocation pressure, swaps
 * (reclaimPages onto a swap device), takes a crash dump and a hibernation image, and frees the
 * memory; then every output (dump file, image, freed frames, the swap device's bytes) is searched for
 * each key.
 *
 * With tagging off (the control) every key is in ordinary untagged memory, the writers are told to
 * honour no tag, and nothing is wiped: the search must then find the keys, which shows that it can.
 * The swap device keeps the bytes of freed slots (Linux does not wipe them either), so a key swapped
 * out before the free is still in it afterwards.
 */
import { Kernel } from '../../mm/kernel.ts';
import { writeDump } from '../../mm/dump/write.ts';
import { hibernate } from '../../mm/hibernate/image.ts';
import { HibernationRefusedError } from '../../mm/hibernate/types.ts';
import { PAGE_SIZE, PageFlag } from '../../mm/types.ts';
import type { AddressSpace } from '../../mm/vm/mm-struct.ts';
import { MADV, MAP, PROT } from '../../mm/vm/types.ts';
import { secretAlloc, secretFree } from '../../mm/secret/secretmem.ts';
import { mlock } from '../../mm/secret/tags.ts';
import { BufferBacking } from '../../mm/swap/backing.ts';
import { swapon } from '../../mm/swap/swapfile.ts';
import { reclaimPages } from '../../mm/swap/vmscan.ts';
import { Prng } from '../../util/prng.ts';

export const KEY_PLACES = ['secret', 'tagged', 'untagged'] as const;
export type KeyPlace = (typeof KEY_PLACES)[number];
export const OUTPUTS = ['dump', 'image', 'freed', 'swap'] as const;
export type Output = (typeof OUTPUTS)[number];

/** Slots of each run's swap device (4 MiB: more than a run's pressure and keys map). */
const SWAP_SLOTS = 1024;
/** Keys are searched for in pieces of this many bytes: a piece found counts its bytes. */
export const KEY_PIECE_BYTES = 16;

export interface SecretsRunOptions {
  seed: number;
  tagging: boolean;
  /** What the dump does with sensitive pages. */
  dumpPolicy: 'exclude' | 'zero';
  /** What hibernation does with sensitive pages ('refuse' writes no image while a secret exists). */
  imagePolicy: 'refuse' | 'exclude' | 'zero';
  ramBytes: number;
}

export interface SecretsRunResult {
  keyBytes: number;
  dumpLevel: number;
  pressurePages: number;
  /** Outputs taken before the keys' memory was freed (the others after); 'swap' when reclaim ran before the free. */
  beforeFree: Output[];
  imageRefused: boolean;
  /** Key bytes found, by place then output. */
  found: Record<KeyPlace, Record<Output, number>>;
  /** Where each key was written: its byte offset in its region (never across a page boundary). */
  keyOffsets: Record<KeyPlace, number>;
}

/** Occurrences of one piece examined at most (a bound on the search's loop, never reached by random keys). */
const PIECE_MATCHES_MAX = 1 << 20;
/**
 * The search reads one 4-byte word of the hay every this many bytes. Each occurrence of a
 * KEY_PIECE_BYTES piece covers KEY_PIECE_BYTES − 3 = 13 word positions, exactly one of them a
 * multiple of 13, so every occurrence is met once, at a known offset inside the piece.
 */
const WORD_STRIDE = KEY_PIECE_BYTES - 3;
const FILTER_BITS = 16;

/**
 * Key bytes of `key` found in `hay`: each KEY_PIECE_BYTES piece present anywhere (where `where`
 * allows) counts whole. One pass over the hay for all of the key's pieces, reading a word every
 * WORD_STRIDE bytes (no Node Buffer: the explorer runs this in a browser; a search per piece with
 * Uint8Array.indexOf, as before, was most of the secrets scenario's time).
 */
export function keyBytesFound(hay: Uint8Array, key: Uint8Array, where: (offset: number) => boolean = () => true): number {
  const pieces = Math.floor(key.length / KEY_PIECE_BYTES);
  // Every word of every piece, by value: the piece and the word's offset in it.
  const words = new Map<number, number[]>();
  const filter = new Uint8Array(1 << FILTER_BITS);
  for (let piece = 0; piece < pieces; piece++) {
    for (let o = 0; o < WORD_STRIDE; o++) {
      const w = wordAt(key, piece * KEY_PIECE_BYTES + o);
      const list = words.get(w) ?? [];
      list.push(piece * KEY_PIECE_BYTES + o);
      words.set(w, list);
      filter[Math.imul(w, 0x9e3779b1) >>> (32 - FILTER_BITS)] = 1;
    }
  }
  const found = new Uint8Array(pieces);
  const matches = new Uint32Array(pieces);
  let left = pieces;
  for (let p = 0; p + 4 <= hay.length && left > 0; p += WORD_STRIDE) {
    const w = wordAt(hay, p);
    if (filter[Math.imul(w, 0x9e3779b1) >>> (32 - FILTER_BITS)] === 0) continue;
    for (const at of words.get(w) ?? []) {
      const piece = Math.floor(at / KEY_PIECE_BYTES);
      const i = p - (at - piece * KEY_PIECE_BYTES);
      if (found[piece] === 1 || matches[piece]! >= PIECE_MATCHES_MAX || i < 0 || i + KEY_PIECE_BYTES > hay.length) continue;
      let j = 0;
      while (j < KEY_PIECE_BYTES && hay[i + j] === key[piece * KEY_PIECE_BYTES + j]) j++;
      if (j < KEY_PIECE_BYTES) continue;
      matches[piece]!++;
      if (where(i)) {
        found[piece] = 1;
        left--;
      }
    }
  }
  return (pieces - left) * KEY_PIECE_BYTES;
}

/** The little-endian 32-bit word at `at` (4 bytes must be there). */
function wordAt(bytes: Uint8Array, at: number): number {
  return ((bytes[at] as number) | ((bytes[at + 1] as number) << 8) | ((bytes[at + 2] as number) << 16) | ((bytes[at + 3] as number) << 24)) >>> 0;
}

export function secretsRun(options: SecretsRunOptions): SecretsRunResult {
  const prng = new Prng(options.seed);
  const kernel = Kernel.boot({ ramBytes: options.ramBytes, cpus: 1 });
  const swap = BufferBacking.create(SWAP_SLOTS);
  swapon(kernel.vm, swap);
  const mm = kernel.vm.createAddressSpace();
  const rw = PROT.READ | PROT.WRITE;
  const anon = MAP.PRIVATE | MAP.ANONYMOUS;
  const keyBytes = KEY_PIECE_BYTES * prng.range(2, 16);
  const pressure = (): number => {
    const pages = prng.range(1, 256);
    const a = mm.mmap(0, pages * PAGE_SIZE, rw, anon);
    for (let p = 0; p < pages; p++) if (prng.int(2) === 0) mm.write(a + p * PAGE_SIZE, new Uint8Array([prng.int(256), 1]));
    for (let i = prng.int(200); i > 0; i--) kernel.kmalloc(prng.range(8, 4096));
    return pages;
  };
  let pressurePages = pressure();
  const keys = {} as Record<KeyPlace, Uint8Array>;
  const regions = {} as Record<KeyPlace, { addr: number; pages: number; at: number }>;
  for (const place of KEY_PLACES) {
    const key = new Uint8Array(keyBytes);
    for (let i = 0; i < keyBytes; i++) key[i] = prng.int(256);
    keys[place] = key;
    const pages = prng.range(1, 4);
    const addr = options.tagging && place === 'secret' ? secretAlloc(mm, pages * PAGE_SIZE).addr : mm.mmap(0, pages * PAGE_SIZE, rw, anon);
    // Inside one page: a key across a page boundary lands in two frames that need not be adjacent
    // in RAM, in the dump or in the image, and a piece split over them is one that no byte search
    // finds, leaked or not (a control run of seed 11's sweep missed 16 of 192 bytes that way).
    const at = prng.int(pages) * PAGE_SIZE + prng.int(PAGE_SIZE - keyBytes + 1);
    mm.write(addr, new Uint8Array(pages * PAGE_SIZE).fill(0x5a)); // fault every page in
    mm.write(addr + at, key);
    regions[place] = { addr, pages, at };
    if (options.tagging && place === 'tagged') {
      mlock(mm, addr, pages * PAGE_SIZE);
      mm.madvise(addr, pages * PAGE_SIZE, MADV.DONTDUMP);
      for (const pfn of framesOf(kernel, mm, addr, pages)) kernel.memMap.flags[pfn]! |= PageFlag.NoSave;
    }
  }
  pressurePages += pressure();
  const dumpLevel = prng.int(32);
  const outputs: Partial<Record<Output, Uint8Array>> = {};
  let imageRefused = false;
  const take = (output: Output): void => {
    if (output === 'dump') outputs.dump = writeDump(kernel, { dumpLevel, sensitive: options.dumpPolicy, ...(options.tagging ? {} : { tags: 0 }) });
    if (output === 'image') {
      try {
        outputs.image = hibernate(kernel, { secrets: options.imagePolicy, ...(options.tagging ? {} : { tags: 0 }) });
      } catch (error) {
        if (!(error instanceof HibernationRefusedError)) throw error;
        imageRefused = true;
        outputs.image = new Uint8Array(0);
      }
    }
  };
  const beforeFree = (['dump', 'image', 'swap'] as const).filter(() => prng.int(2) === 0);
  // Reclaim swaps out every page it may (each is looked at twice: the second chance, then taken).
  const swapOut = (): void => void reclaimPages(kernel.vm, SWAP_SLOTS);
  for (const o of beforeFree) if (o === 'swap') swapOut();
  else take(o);
  for (const place of KEY_PLACES) {
    const { addr, pages } = regions[place];
    if (options.tagging && place === 'secret') {
      secretFree(mm, addr); // the kernel wipes each page as its last mapping goes
      continue;
    }
    if (options.tagging && place === 'tagged') {
      mm.write(addr, new Uint8Array(pages * PAGE_SIZE)); // the program wipes it before free (OPENSSL_cleanse)
      for (const pfn of framesOf(kernel, mm, addr, pages)) kernel.memMap.flags[pfn]! &= ~PageFlag.NoSave;
    }
    mm.munmap(addr, pages * PAGE_SIZE);
  }
  if (prng.int(2) === 0) pressurePages += pressure();
  if (!beforeFree.includes('swap')) swapOut();
  for (const o of ['dump', 'image'] as const) if (!beforeFree.includes(o)) take(o);
  // The device's bytes up to its last page ever written (the rest is zeros, as mkswap left it).
  outputs.swap = trimZeroPages(swap.snapshot());
  // Freed frames: RAM on the buddy and per-CPU free lists, searched in place.
  const ram = new Uint8Array(kernel.buffer);
  const free = freeFrames(kernel);
  const found = {} as Record<KeyPlace, Record<Output, number>>;
  for (const place of KEY_PLACES) {
    found[place] = {
      dump: keyBytesFound(outputs.dump as Uint8Array, keys[place]),
      image: keyBytesFound(outputs.image as Uint8Array, keys[place]),
      freed: keyBytesFound(ram, keys[place], (i) => free[Math.floor(i / PAGE_SIZE)] === 1 && free[Math.floor((i + KEY_PIECE_BYTES - 1) / PAGE_SIZE)] === 1),
      swap: keyBytesFound(outputs.swap, keys[place]),
    };
  }
  kernel.validate();
  const keyOffsets = Object.fromEntries(KEY_PLACES.map((p) => [p, regions[p].at])) as Record<KeyPlace, number>;
  return { keyBytes, dumpLevel, pressurePages, beforeFree: [...beforeFree], imageRefused, found, keyOffsets };
}

function framesOf(kernel: Kernel, mm: AddressSpace, addr: number, pages: number): number[] {
  const out: number[] = [];
  for (let p = 0; p < pages; p++) {
    if (mm.translates(addr + p * PAGE_SIZE, 'read')) out.push(Math.floor(kernel.vm.walker.frame / PAGE_SIZE));
  }
  return out;
}

/** `bytes` without its trailing all-zero pages. */
function trimZeroPages(bytes: Uint8Array): Uint8Array {
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  let end = words.length;
  while (end > 0 && words[end - 1] === 0) end--;
  return bytes.subarray(0, Math.ceil((end * 4) / PAGE_SIZE) * PAGE_SIZE);
}

/** 1 for each frame on a free list (a buddy block's pages, or a per-CPU list's page). */
function freeFrames(kernel: Kernel): Uint8Array {
  const { flags, order, nrPages } = kernel.memMap;
  const free = new Uint8Array(nrPages);
  for (let pfn = 0; pfn < nrPages; ) {
    const f = flags[pfn] as number;
    const span = (f & (PageFlag.Buddy | PageFlag.Allocated)) !== 0 ? 1 << (order[pfn] as number) : 1;
    if ((f & (PageFlag.Buddy | PageFlag.Pcp)) !== 0) free.fill(1, pfn, Math.min(nrPages, pfn + span));
    pfn += span;
  }
  return free;
}

export interface SecretsSweep {
  runs: number;
  /** Key bytes found, summed over runs, by tagging then place then output. */
  found: Record<'on' | 'off', Record<KeyPlace, Record<Output, number>>>;
  /** Runs with tagging on where a tagged key's byte reached an output (the claim: 0). */
  leakingRuns: number;
  /** Control runs whose image, or swap device swapped out while the key was live, did not hold the whole secret key (the claim: 0). */
  controlMisses: number;
  imagesRefused: number;
}

const zeroCounts = (): Record<KeyPlace, Record<Output, number>> =>
  Object.fromEntries(KEY_PLACES.map((p) => [p, { dump: 0, image: 0, freed: 0, swap: 0 }])) as Record<KeyPlace, Record<Output, number>>;

/** `runs` randomised runs, half with tagging on, half off (the control); policies drawn per run. */
export function secretsSweep(seed: number, runs: number, ramBytes: number, progress?: (done: number) => void): SecretsSweep {
  const prng = new Prng(seed);
  const sweep: SecretsSweep = { runs, found: { on: zeroCounts(), off: zeroCounts() }, leakingRuns: 0, controlMisses: 0, imagesRefused: 0 };
  for (let r = 0; r < runs; r++) {
    const tagging = r % 2 === 0;
    const dumpPolicy = prng.int(2) === 0 ? 'exclude' : 'zero';
    const imagePolicy = (['refuse', 'exclude', 'zero'] as const)[prng.int(3)] ?? 'exclude';
    const result = secretsRun({ seed: prng.nextU32(), tagging, dumpPolicy, imagePolicy, ramBytes });
    const into = sweep.found[tagging ? 'on' : 'off'];
    for (const place of KEY_PLACES) for (const o of OUTPUTS) into[place][o] += result.found[place][o];
    if (result.imageRefused) sweep.imagesRefused++;
    if (tagging && (['secret', 'tagged'] as const).some((p) => OUTPUTS.some((o) => result.found[p][o] > 0))) sweep.leakingRuns++;
    const missed = (o: 'image' | 'swap'): boolean => result.beforeFree.includes(o) && result.found.secret[o] !== result.keyBytes;
    if (!tagging && (missed('image') || missed('swap'))) sweep.controlMisses++;
    progress?.(r + 1);
  }
  return sweep;
}
