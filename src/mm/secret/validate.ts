/**
 * validateSecrets: the invariants of types.ts, walked over every frame (Vm.validate runs it).
 *   direct-map entry absent ⇒ Sensitive, all four SECRET_PAGE_TAGS, an allocated anonymous page
 *   mapped exactly once (its owner's region only), or a page of the KFENCE pool.
 */
import { assert } from '../../util/assert.ts';
import { PageFlag } from '../types.ts';
import { VM_OWNER_ANON } from '../vm/owners.ts';
import type { Vm } from '../vm/vm.ts';
import { directMapHoles } from './direct-map.ts';
import { kfenceOf, kfencePoolRange } from './kfence.ts';
import { SECRET_PAGE_TAGS } from './types.ts';
import type { SecretStats } from './types.ts';

export function validateSecrets(vm: Vm): void {
  const mem = vm.memMap;
  const holes = new Set(directMapHoles(vm));
  const pool = kfencePoolRange(vm); // KFENCE's guards and idle objects are holes of its own (kfence.ts validates them)
  if (pool !== null) for (let pfn = pool[0]; pfn < pool[1]; pfn++) holes.delete(pfn);
  kfenceOf(vm)?.validate();
  let sensitive = 0;
  for (let pfn = 0; pfn < mem.nrPages; pfn++) {
    const f = mem.flags[pfn] as number;
    if ((f & PageFlag.Sensitive) === 0) {
      assert(!holes.has(pfn), () => `pfn ${pfn} is missing from the direct map but not tagged Sensitive: expected only secret frames there`);
      continue;
    }
    sensitive++;
    if (!holes.has(pfn)) continue; // ordinary memory tagged Sensitive keeps its direct-map entry
    assert((f & SECRET_PAGE_TAGS) === SECRET_PAGE_TAGS, () => `Sensitive pfn ${pfn} has tags 0x${f.toString(16)}: expected Sensitive, NoSave, NoDump and Mlocked together`);
    assert((f & PageFlag.Allocated) !== 0 && mem.owner[pfn] === VM_OWNER_ANON, () => `Sensitive pfn ${pfn} is not an allocated anonymous page (flags 0x${f.toString(16)}, owner 0x${(mem.owner[pfn] ?? 0).toString(16)})`);
    assert(mem.mapcount[pfn] === 1, () => `Sensitive pfn ${pfn} is mapped ${mem.mapcount[pfn]} times: expected only its owner's mapping`);
  }
  assert(holes.size <= sensitive, () => `${holes.size} direct-map holes for ${sensitive} Sensitive frames`);
}

export function secretStats(vm: Vm): SecretStats {
  let sensitivePages = 0;
  for (let pfn = 0; pfn < vm.memMap.nrPages; pfn++) if (((vm.memMap.flags[pfn] as number) & PageFlag.Sensitive) !== 0) sensitivePages++;
  return { sensitivePages, directMapHoles: directMapHoles(vm).length, directMapSplits: vm.counter('direct_map_level2_splits') };
}
