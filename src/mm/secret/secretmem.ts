/**
 * secretAlloc / secretFree: memfd_secret(2)'s memory (Linux mm/secretmem.c) for one owner.
 *
 *   const region = secretAlloc(mm, 32);          // a 32-byte key, right-aligned before a guard page
 *   mm.write(region.addr, key);                  // the owner reaches it through its own mapping
 *   kernel.vm.kernelRead(DIRECT_MAP_BASE + pfn * 4096, 1)   // SecretAccessError: not in the direct map
 *   secretFree(mm, region.addr);                 // zeroed, back in the direct map, then freed
 *
 * A region is a PROT_NONE mapping of its pages plus a guard page on each side, whose middle is made
 * read-write, locked (VM_LOCKED: MADV_DONTNEED is refused, reclaim never takes it), never dumped
 * (VM_DONTDUMP, as secretmem_mmap sets both), never huge (VM_NOHUGEPAGE, so every frame is a
 * 4 KiB page of its own), and left out of a fork's child (VM_DONTCOPY, as MADV_DONTFORK sets it).
 * Linux shares memfd_secret's pages with a child, as any shared mapping; kmem's secret memory is an
 * anonymous private mapping with one owner, and a child inheriting it would get copy-on-write
 * copies of the key in ordinary memory (its first write copies the whole page): so the child gets no
 * mapping there at all, and an access faults. get_user_pages refuses the pages (EFAULT, as Linux's
 * check_vma_flags refuses a secretmem VMA), so no DMA pin or unshare copy reaches them either.
 * Its pages are faulted in at once (secretmem faults them on first touch;
 * kmem populates so that a page's tags and direct-map hole exist from the start), tagged
 * SECRET_PAGE_TAGS and removed from the direct map. Only the owner's page tables map them.
 *
 * The object is right-aligned: addr + sizeBytes is the trailing guard page, so an overflow of 1 to
 * 4096 bytes faults at its first byte (OpenBSD malloc's and KFENCE's choice for the right side); an
 * underflow faults once it crosses the leading guard, i.e. after the slack of the first page.
 *
 * Freeing unmaps the three VMAs; each page's last unmap wipes it (releaseSensitivePage, called by
 * rmapRemove). Locking: the owner's mmap_lock inside each mm call; the Vm root lock for the direct map.
 */
import { ArgumentError } from '../../util/errors.ts';
import { PageFlag } from '../types.ts';
import { SyscallError } from '../vm/errors.ts';
import type { AddressSpace } from '../vm/mm-struct.ts';
import { MADV, MAP, PAGE_SIZE, PROT, VM, pageAlign } from '../vm/types.ts';
import type { Vm } from '../vm/vm.ts';
import { setDirectMapInvalid } from './direct-map.ts';
import { SecretRegionError } from './errors.ts';
import { setVmaFlags, userPfn } from './tags.ts';
import { SECRET_PAGE_TAGS } from './types.ts';
import type { SecretRegion } from './types.ts';

/** The most one region may hold (a bound for the loops; Linux bounds it by RLIMIT_MEMLOCK). */
export const SECRET_MAX_BYTES = 64 * 1024 * 1024;

/**
 * A secret region of sizeBytes in mm. Throws SyscallError ENOMEM when memory runs out (with nothing
 * left behind), ArgumentError for a size outside [1, SECRET_MAX_BYTES].
 */
export function secretAlloc(mm: AddressSpace, sizeBytes: number): SecretRegion {
  if (!Number.isInteger(sizeBytes) || sizeBytes < 1 || sizeBytes > SECRET_MAX_BYTES) {
    throw new ArgumentError(`secretAlloc of ${sizeBytes} bytes: expected an integer in [1, ${SECRET_MAX_BYTES}]`);
  }
  const vm = mm.vm;
  const nrPages = pageAlign(sizeBytes) / PAGE_SIZE;
  const base = mm.mmap(0, (nrPages + 2) * PAGE_SIZE, PROT.NONE, MAP.PRIVATE | MAP.ANONYMOUS);
  const start = base + PAGE_SIZE;
  const end = start + nrPages * PAGE_SIZE;
  const hidden: number[] = [];
  try {
    mm.mprotect(start, end - start, PROT.READ | PROT.WRITE);
    mm.madvise(start, end - start, MADV.NOHUGEPAGE);
    mm.madvise(start, end - start, MADV.DONTDUMP);
    setVmaFlags(mm, start, end, VM.LOCKED | VM.DONTCOPY, 0);
    mm.madvise(start, end - start, MADV.POPULATE_WRITE);
    for (let vaddr = start; vaddr < end; vaddr += PAGE_SIZE) {
      const pfn = userPfn(mm, vaddr);
      if (pfn < 0) throw new SyscallError('secretAlloc', 'ENOMEM', `page at 0x${vaddr.toString(16)} was not populated`);
      if (!setDirectMapInvalid(vm, pfn)) throw new SyscallError('secretAlloc', 'ENOMEM', 'no page to split the direct map');
      hidden.push(pfn);
      vm.memMap.flags[pfn] = (vm.memMap.flags[pfn] as number) | SECRET_PAGE_TAGS;
    }
  } catch (error) {
    // Nothing stays behind: every hidden page is tagged, and munmap wipes and restores each.
    mm.munmap(base, (nrPages + 2) * PAGE_SIZE);
    throw error;
  }
  return { addr: end - sizeBytes, sizeBytes, start, nrPages };
}

/** Frees the region holding addr (any address secretAlloc returned, or inside its pages). */
export function secretFree(mm: AddressSpace, addr: number): void {
  const region = secretRegionAt(mm, addr);
  if (region === null) throw new SecretRegionError(addr, 'no secret region of this address space holds it');
  mm.munmap(region.start - PAGE_SIZE, (region.nrPages + 2) * PAGE_SIZE);
}

/** The region of mm holding addr, or null: a VM_LOCKED VMA whose first page is Sensitive. */
export function secretRegionAt(mm: AddressSpace, addr: number): { start: number; nrPages: number } | null {
  const vmas = mm.vm.vmas;
  const vma = mm.vmaContaining(addr);
  if (vma === 0) return null;
  const start = vmas.start(vma);
  if ((vmas.flags(vma) & VM.LOCKED) === 0 || !isSensitivePage(mm.vm, userPfn(mm, start))) return null;
  return { start, nrPages: (vmas.end(vma) - start) / PAGE_SIZE };
}

/** Whether pfn holds a secret (tagged Sensitive): what swap, hibernation and dumps ask. */
export function isSensitivePage(vm: Vm, pfn: number): boolean {
  return pfn >= 0 && pfn < vm.pages.nrPages && ((vm.memMap.flags[pfn] as number) & PageFlag.Sensitive) !== 0;
}
