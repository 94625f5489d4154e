/**
 * Vm.validate(): walks every address space's VMAs and page tables, every reverse-map list, the
 * vmalloc areas and init_mm's tables, and checks the invariants types.ts states. Throws
 * InvariantError on the first broken rule.
 */
import { validateSecrets } from '../secret/validate.ts';
import { isSwapPte } from '../swap/swp-entry.ts';
import { noteSwapPte, validateSwap } from '../swap/validate.ts';
import { PTE_HI_NX, PTE_HUGE, PTE_PRESENT, PTE_USER, PTE_WRITABLE } from '../../machine/pte.ts';
import { assert } from '../../util/assert.ts';
import { PageFlag } from '../types.ts';
import { PTE_PROTNONE } from './fault.ts';
import type { AddressSpace } from './mm-struct.ts';
import { MM, MMF } from './mm-struct.ts';
import { VM_OWNER_ANON, VM_OWNER_ANON_THP, VM_OWNER_PGTABLE, VM_OWNER_VMALLOC } from './owners.ts';
import { LEVEL_SPAN, entryPfn } from './page-table.ts';
import { rmapWalk } from './rmap.ts';
import { HPAGE_PMD_NR, HPAGE_PMD_ORDER, PAGE_SIZE, PMD_SIZE, PTRS_PER_TABLE, TASK_SIZE, VM, VM_ACCESS_FLAGS, formatVaddr } from './types.ts';
import { canMerge } from './vma-ops.ts';
import { vmapAreas } from './vmalloc.ts';
import { ROOT } from './vm.ts';
import type { Vm } from './vm.ts';

export function validateVm(vm: Vm): void {
  const mapsOf = new Map<number, number>();
  const writableMaps = new Set<number>();
  let zeroMaps = 0;
  let hugeZeroMaps = 0;
  let thps = 0;
  let rss = 0;
  let tables = 0;
  const seenPfns = new Set<number>();
  const swapRefs = new Map<number, number>();
  const mms = vm.addressSpaces();
  for (const mm of mms) {
    const r = validateAddressSpace(vm, mm, mapsOf, writableMaps, swapRefs);
    zeroMaps += r.zeroMaps;
    hugeZeroMaps += r.hugeZeroMaps;
    thps += r.thps;
    rss += mm.rssAnonPages;
    tables += mm.pageTablePages;
    for (const pfn of r.tablePfns) seenPfns.add(pfn);
  }
  assert(vm.counter('nr_zero_page_maps') === zeroMaps, () => `nr_zero_page_maps ${vm.counter('nr_zero_page_maps')}: expected ${zeroMaps} zero-page entries`);
  assert(vm.counter('nr_huge_zero_page_maps') === hugeZeroMaps, () => `nr_huge_zero_page_maps ${vm.counter('nr_huge_zero_page_maps')}: expected ${hugeZeroMaps}`);
  assert(vm.counter('nr_anon_transparent_hugepages') === thps, () => `nr_anon_transparent_hugepages ${vm.counter('nr_anon_transparent_hugepages')}: expected ${thps} THPs mapped`);
  assert(vm.counter('nr_anon_pages') === rss, () => `nr_anon_pages ${vm.counter('nr_anon_pages')}: expected Σ rss ${rss}`);
  assert(vm.counter('nr_page_table_pages') === tables, () => `nr_page_table_pages ${vm.counter('nr_page_table_pages')}: expected Σ mm tables ${tables}`);
  // Every anonymous page: mapped as often as its rmap list says, and as its references.
  const mm = vm.memMap;
  let anonPages = 0;
  let tablePages = 0;
  let vmallocPages = 0;
  let gupRefs = 0;
  for (let pfn = 0; pfn < mm.nrPages; pfn++) {
    if (((mm.flags[pfn] as number) & PageFlag.Allocated) === 0) continue;
    const owner = mm.owner[pfn] as number;
    if (owner === VM_OWNER_PGTABLE) tablePages++;
    else if (owner === VM_OWNER_VMALLOC) vmallocPages++;
    if (owner !== VM_OWNER_ANON && owner !== VM_OWNER_ANON_THP) continue;
    const maps = mapsOf.get(pfn) ?? 0;
    const gup = (mm.refcount[pfn] as number) - maps;
    gupRefs += gup;
    assert(gup >= 0, () => `pfn ${pfn}: refcount ${mm.refcount[pfn]}, expected at least ${maps} (one per mapping)`);
    assert(maps > 0 || gup > 0, () => `anonymous page pfn ${pfn} is mapped nowhere and holds no GUP reference: a leaked page`);
    assert(mm.mapcount[pfn] === maps, () => `pfn ${pfn}: mapcount ${mm.mapcount[pfn]}, expected the ${maps} entries that map it`);
    // Copy-on-write: a page two entries share is never writable through either, nor exclusive.
    const exclusive = ((mm.flags[pfn] as number) & PageFlag.AnonExclusive) !== 0;
    assert(!exclusive || maps <= 1, () => `pfn ${pfn} is AnonExclusive but ${maps} entries map it`);
    assert(!writableMaps.has(pfn) || maps === 1, () => `pfn ${pfn} is shared by ${maps} entries and one of them is writable: expected copy-on-write entries to be read-only`);
    if (maps === 0) continue;
    anonPages += maps * (owner === VM_OWNER_ANON_THP ? HPAGE_PMD_NR : 1);
    const n = rmapWalk(vm, pfn, (mmPaddr, vaddr) => {
      const owner = vm.wrap(mmPaddr);
      const slot = vm.tables.entry(owner.pgdPfn, vaddr, 1, false);
      assert(slot >= 0 && entryPfn(vm.u[slot] as number) === pfn, () => `rmap item of pfn ${pfn} names mm ${owner.pid} vaddr 0x${formatVaddr(vaddr)}, whose entry does not map it`);
    });
    assert(n === maps, () => `pfn ${pfn}: rmap list has ${n} items, expected ${maps}`);
  }
  for (const pfn of mapsOf.keys()) {
    const owner = mm.owner[pfn] as number;
    assert((owner === VM_OWNER_ANON || owner === VM_OWNER_ANON_THP) && ((mm.flags[pfn] as number) & PageFlag.Allocated) !== 0, () => `a user entry maps pfn ${pfn}, which is not an allocated anonymous page`);
  }
  assert(gupRefs === vm.counter('kmem_gup_refs'), () => `anonymous pages hold ${gupRefs} references beyond their mappings; expected kmem_gup_refs ${vm.counter('kmem_gup_refs')} (get/pin_user_pages)`);
  assert(anonPages === rss, () => `anonymous pages mapped ${anonPages} times (a THP as 512); expected Σ rss ${rss}`);
  assert(
    tablePages === tables + vm.root(ROOT.KERNEL_TABLES),
    () => `${tablePages} page-table pages allocated; expected ${tables} user + ${vm.root(ROOT.KERNEL_TABLES)} kernel`,
  );
  const areas = vmapAreas(vm);
  let areaPages = 0;
  for (let i = 0; i < areas.length; i++) {
    const a = areas[i] as (typeof areas)[number];
    areaPages += a.nrPages;
    assert(a.sizeBytes === (a.nrPages + 1) * PAGE_SIZE, () => `vmalloc area at 0x${formatVaddr(a.start)}: size ${a.sizeBytes}, expected its pages and a guard page`);
    const next = areas[i + 1];
    assert(next === undefined || a.start + a.sizeBytes <= next.start, () => `vmalloc areas at 0x${formatVaddr(a.start)} overlap or are out of order`);
    const guard = vm.tables.entry(vm.kernelPgdPfn, a.start + a.nrPages * PAGE_SIZE, 1, false);
    assert(guard < 0 || ((vm.u[guard] as number) & PTE_PRESENT) === 0, () => `vmalloc guard page at 0x${formatVaddr(a.start + a.nrPages * PAGE_SIZE)} is mapped`);
  }
  assert(areaPages === vmallocPages && vm.counter('nr_vmalloc') === areaPages, () => `vmalloc: ${vmallocPages} pages allocated, ${areaPages} in areas, nr_vmalloc ${vm.counter('nr_vmalloc')}`);
  validateSecrets(vm);
  validateSwap(vm, swapRefs, mms);
}

/** Checks one mm; returns the number of entries that map each page (into mapsOf; writable ones into writableMaps) and its table pfns. */
function validateAddressSpace(vm: Vm, mm: AddressSpace, mapsOf: Map<number, number>, writableMaps: Set<number>, swapRefs: Map<number, number>): { zeroMaps: number; hugeZeroMaps: number; thps: number; tablePfns: number[] } {
  const vmas = vm.vmas;
  const n = mm.mapCount;
  assert(n <= mm.maxMapCount + 1, () => `mm ${mm.pid}: map_count ${n} above max_map_count ${mm.maxMapCount}`);
  let totalPages = 0;
  for (let i = 0; i < n; i++) {
    const vma = mm.vmaAt(i);
    const start = vmas.start(vma);
    const end = vmas.end(vma);
    assert(start % PAGE_SIZE === 0 && end % PAGE_SIZE === 0 && start < end && end <= TASK_SIZE, () => `mm ${mm.pid}: VMA ${i} [0x${start.toString(16)}, 0x${end.toString(16)}) is not a page-aligned range in user space`);
    assert(vmas.mm(vma) === mm.paddr, () => `mm ${mm.pid}: VMA ${i} names another mm`);
    if (i > 0) {
      const prev = mm.vmaAt(i - 1);
      assert(vmas.end(prev) <= start, () => `mm ${mm.pid}: VMAs ${i - 1} and ${i} overlap or are out of order`);
      assert(!canMerge(mm, prev, vma), () => `mm ${mm.pid}: VMAs ${i - 1} and ${i} at 0x${start.toString(16)} could merge: expected vma_merge to have joined them`);
    }
    totalPages += (end - start) / PAGE_SIZE;
  }
  assert(totalPages === mm.totalVmPages, () => `mm ${mm.pid}: total_vm ${mm.totalVmPages}, expected ${totalPages}`);
  // The kernel half is init_mm's.
  const pgd = mm.pgdPfn;
  const kernel = vm.kernelPgdPfn;
  for (let i = PTRS_PER_TABLE; i < 2 * PTRS_PER_TABLE; i++) {
    const a = (pgd * PAGE_SIZE) / 4 + i;
    const b = (kernel * PAGE_SIZE) / 4 + i;
    assert(vm.u[a] === vm.u[b], () => `mm ${mm.pid}: kernel-half PGD word ${i} differs from init_mm's`);
  }
  const tablePfns: number[] = [pgd];
  let zeroMaps = 0;
  let hugeZeroMaps = 0;
  let thps = 0;
  let anon = 0;
  let swapEnts = 0;
  const u = vm.u;
  const walkTable = (tablePfn: number, level: number, base: number): void => {
    const span = LEVEL_SPAN[level] as number;
    const limit = level === 4 ? PTRS_PER_TABLE / 2 : PTRS_PER_TABLE;
    for (let idx = 0; idx < limit; idx++) {
      const slot = (tablePfn * PAGE_SIZE) / 4 + idx * 2;
      const lo = u[slot] as number;
      const hi = u[slot + 1] as number;
      const vaddr = base + idx * span;
      if (lo === 0 && hi === 0) continue;
      const leaf = level === 1 || (level === 2 && (lo & PTE_HUGE) !== 0);
      if (!leaf) {
        assert((lo & PTE_PRESENT) !== 0, () => `mm ${mm.pid}: non-present table entry at level ${level} for 0x${vaddr.toString(16)} holds 0x${lo.toString(16)}`);
        const child = entryPfn(lo);
        assert(vm.memMap.owner[child] === VM_OWNER_PGTABLE, () => `mm ${mm.pid}: table at pfn ${child} is not a page-table page`);
        const first = mm.findIndex(vaddr);
        assert(first < mm.mapCount && vmas.start(mm.vmaAt(first)) < vaddr + span, () => `mm ${mm.pid}: page table for [0x${vaddr.toString(16)}, +0x${span.toString(16)}) spans no VMA: expected free_pgtables to have freed it`);
        tablePfns.push(child);
        walkTable(child, level - 1, vaddr);
        continue;
      }
      const vma = mm.vmaContaining(vaddr);
      assert(vma !== 0, () => `mm ${mm.pid}: entry at 0x${vaddr.toString(16)} lies in no VMA`);
      if (level === 1 && isSwapPte(lo)) {
        noteSwapPte(swapRefs, lo, hi);
        swapEnts++;
        continue;
      }
      if (level === 2) {
        assert(vmas.end(vma) >= vaddr + PMD_SIZE, () => `mm ${mm.pid}: huge entry at 0x${vaddr.toString(16)} runs past its VMA's end`);
      }
      const flags = vmas.flags(vma);
      const pfn = entryPfn(lo);
      const none = (flags & VM_ACCESS_FLAGS) === 0;
      assert(none ? (lo & (PTE_PRESENT | PTE_PROTNONE)) === PTE_PROTNONE : (lo & (PTE_PRESENT | PTE_USER)) === (PTE_PRESENT | PTE_USER), () => `mm ${mm.pid}: entry at 0x${vaddr.toString(16)} (0x${lo.toString(16)}) does not match its VMA's protection 0x${flags.toString(16)}`);
      assert(((lo & PTE_WRITABLE) === 0 || (flags & VM.WRITE) !== 0), () => `mm ${mm.pid}: writable entry at 0x${vaddr.toString(16)} in a VMA without VM_WRITE`);
      assert(((hi & PTE_HI_NX) !== 0) === ((flags & VM.EXEC) === 0), () => `mm ${mm.pid}: NX of the entry at 0x${vaddr.toString(16)} disagrees with VM_EXEC`);
      if (level === 2 && pfn === vm.root(ROOT.HUGE_ZERO_PFN)) {
        assert((lo & PTE_WRITABLE) === 0, () => `mm ${mm.pid}: the huge zero page is mapped writable at 0x${vaddr.toString(16)}`);
        hugeZeroMaps++;
      } else if (level === 2) {
        assert(vm.memMap.owner[pfn] === VM_OWNER_ANON_THP && vm.memMap.order[pfn] === HPAGE_PMD_ORDER, () => `mm ${mm.pid}: huge entry at 0x${vaddr.toString(16)} maps pfn ${pfn}, not a THP`);
        const deposit = vm.memMap.next[pfn] as number;
        assert(deposit > 0 && vm.memMap.owner[deposit] === VM_OWNER_PGTABLE, () => `mm ${mm.pid}: THP at 0x${vaddr.toString(16)} has no deposited page table`);
        tablePfns.push(deposit);
        thps++;
        anon += HPAGE_PMD_NR;
        mapsOf.set(pfn, (mapsOf.get(pfn) ?? 0) + 1);
      } else if (pfn === vm.zeroPfn) {
        assert((lo & PTE_WRITABLE) === 0, () => `mm ${mm.pid}: the zero page is mapped writable at 0x${vaddr.toString(16)}`);
        zeroMaps++;
      } else {
        anon++;
        mapsOf.set(pfn, (mapsOf.get(pfn) ?? 0) + 1);
        if ((lo & PTE_WRITABLE) !== 0) writableMaps.add(pfn);
      }
    }
  };
  walkTable(pgd, 4, 0);
  assert(swapEnts === mm.swapEntries, () => `mm ${mm.pid}: ${swapEnts} swap PTEs, the mm counts ${mm.swapEntries} (MM_SWAPENTS)`);
  assert(tablePfns.length === mm.pageTablePages, () => `mm ${mm.pid}: ${tablePfns.length} page tables reachable, the mm counts ${mm.pageTablePages}`);
  assert(anon === mm.rssAnonPages, () => `mm ${mm.pid}: ${anon} anonymous pages mapped, rss counts ${mm.rssAnonPages}`);
  assert(mm.word(MM.MAP_COUNT) === n, () => `mm ${mm.pid}: map_count word ${mm.word(MM.MAP_COUNT)}, expected ${n}`);
  assert(thps === mm.num(MMF.ANON_PMDS), () => `mm ${mm.pid}: ${thps} THPs mapped, the mm counts ${mm.num(MMF.ANON_PMDS)}`);
  return { zeroMaps, hugeZeroMaps, thps, tablePfns };
}
