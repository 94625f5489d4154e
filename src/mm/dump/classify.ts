/**
 * Classifies every frame from struct page alone, as makedumpfile does from the crashed kernel's
 * mem_map: one pass over the pfns, block by block (a free block's or an allocation's first page
 * gives its order, so the pages after it need no flags of their own).
 *
 * Precedence: sensitive (the tags) > free > user > zero (content) > kernel. A free or user page whose
 * bytes are all zero stays free or user; its class decides, and the Zero bit can still drop it
 * (see excludes()).
 */
import type { MemMap } from '../mem-map.ts';
import { PAGE_SIZE, PageFlag } from '../types.ts';
import { VM_OWNER_ANON, VM_OWNER_ANON_THP } from '../vm/owners.ts';
import { CLASS_LEVEL_BIT, DumpLevel, PageClass } from './types.ts';

/** The tags that keep a page out of every dump. */
export const DUMP_SENSITIVE_TAGS = PageFlag.Sensitive | PageFlag.NoDump;

export function pageIsZero(ram: Uint8Array, pfn: number): boolean {
  const words = new Int32Array(ram.buffer, ram.byteOffset + pfn * PAGE_SIZE, PAGE_SIZE / 4);
  for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
  return true;
}

/** Each frame's PageClass. `tags` are the flags that make a page sensitive (DUMP_SENSITIVE_TAGS). */
export function classifyFrames(memMap: MemMap, ram: Uint8Array, tags: number = DUMP_SENSITIVE_TAGS): Uint8Array {
  const n = memMap.nrPages;
  const classes = new Uint8Array(n);
  const { flags, order, owner } = memMap;
  let pfn = 0;
  while (pfn < n) {
    const f = flags[pfn] as number;
    let span = 1;
    let cls: number = PageClass.Kernel;
    if ((f & PageFlag.Buddy) !== 0) {
      span = 1 << (order[pfn] as number);
      cls = PageClass.Free;
    } else if ((f & PageFlag.Pcp) !== 0) {
      cls = PageClass.Free;
    } else if ((f & PageFlag.Allocated) !== 0) {
      span = 1 << (order[pfn] as number);
      const o = owner[pfn] as number;
      if (o === VM_OWNER_ANON || o === VM_OWNER_ANON_THP) cls = PageClass.User;
    }
    const end = Math.min(n, pfn + span);
    for (let p = pfn; p < end; p++) {
      if ((((flags[p] as number) | f) & tags) !== 0) classes[p] = PageClass.Sensitive;
      else if (cls === PageClass.Kernel && pageIsZero(ram, p)) classes[p] = PageClass.Zero;
      else classes[p] = cls;
    }
    pfn = end;
  }
  return classes;
}

/** Whether dump level `level` leaves a page of class `cls` (content zero or not) out of the file. */
export function excludes(level: number, cls: number, zero: boolean): boolean {
  if (cls === PageClass.Sensitive) return true;
  if (((CLASS_LEVEL_BIT[cls] ?? 0) & level) !== 0) return true;
  return (level & DumpLevel.Zero) !== 0 && zero;
}
