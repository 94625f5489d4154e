/**
 * The wipe of a secret page (secretmem's free_folio), apart from secretmem.ts so that the reverse
 * map (vm/rmap.ts), which frees anonymous pages, can call it without importing the allocator.
 */
import { PAGE_SIZE } from '../vm/types.ts';
import type { Vm } from '../vm/vm.ts';
import { setDirectMapDefault } from './direct-map.ts';
import { SECRET_PAGE_TAGS } from './types.ts';

/**
 * A Sensitive page losing its last mapping (secretmem's free_folio): back into the direct map, its
 * bytes zeroed, its tags cleared. rmapRemove calls it before the page goes to the buddy allocator.
 */
export function releaseSensitivePage(vm: Vm, pfn: number): void {
  setDirectMapDefault(vm, pfn);
  vm.ram.bytes.fill(0, pfn * PAGE_SIZE, (pfn + 1) * PAGE_SIZE);
  vm.memMap.flags[pfn] = (vm.memMap.flags[pfn] as number) & ~SECRET_PAGE_TAGS;
}
