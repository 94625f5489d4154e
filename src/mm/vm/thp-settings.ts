/**
 * The transparent-huge-page knobs, as /sys/kernel/mm/transparent_hugepage/ names them, kept in Vm's
 * root page so that every worker sees one setting (Documentation/admin-guide/mm/transhuge.rst):
 *
 *   enabled              always | madvise | never      default always (Kconfig TRANSPARENT_HUGEPAGE_ALWAYS)
 *   defrag               always | defer | defer+madvise | madvise | never   default madvise: what a THP
 *                        fault does when no 2 MiB block is free — compact directly (always; the
 *                        madvise variants for VM_HUGEPAGE VMAs), wake kcompactd and fall back (defer;
 *                        defer+madvise for other VMAs), or just fall back (never; madvise for others)
 *   use_zero_page        a read fault maps the huge zero page; default on
 *   khugepaged/max_ptes_none   empty PTEs a collapse may fill with zeroes; default 511 (HPAGE_PMD_NR − 1)
 *   khugepaged/pages_to_scan   PTEs one khugepaged pass scans; default 4096 (8 · HPAGE_PMD_NR)
 *   khugepaged/defrag          khugepaged's allocation may compact directly; default on
 *
 * And one kmem names: the alignment policy of anonymous mmap (thp_get_unmapped_area):
 *   none          no alignment (Linux before 6.7)
 *   linux-6.7     every anonymous mapping of at least 2 MiB starts 2 MiB-aligned (commit efa7df3e3bb5)
 *   linux-6.12    only lengths that are multiples of 2 MiB (commit d4148aeab412, after the 6.7 regressions)
 *   always        every anonymous mapping
 */
import { ArgumentError } from '../../util/errors.ts';
import { HPAGE_PMD_NR } from './types.ts';
import { ROOT } from './vm.ts';
import type { Vm } from './vm.ts';

export const THP_ENABLED = ['always', 'madvise', 'never'] as const;
export type ThpEnabled = (typeof THP_ENABLED)[number];
export const THP_DEFRAG = ['always', 'defer', 'defer+madvise', 'madvise', 'never'] as const;
export type ThpDefrag = (typeof THP_DEFRAG)[number];
export const THP_ALIGN_POLICIES = ['none', 'linux-6.7', 'linux-6.12', 'always'] as const;
export type ThpAlignPolicy = (typeof THP_ALIGN_POLICIES)[number];

export interface ThpSettings {
  enabled: ThpEnabled;
  defrag: ThpDefrag;
  useZeroPage: boolean;
  align: ThpAlignPolicy;
  maxPtesNone: number;
  pagesToScan: number;
  khugepagedDefrag: boolean;
}

export function initThpSettings(vm: Vm): void {
  vm.setRoot(ROOT.THP_ENABLED, 0);
  vm.setRoot(ROOT.THP_DEFRAG, THP_DEFRAG.indexOf('madvise'));
  vm.setRoot(ROOT.THP_USE_ZERO_PAGE, 1);
  vm.setRoot(ROOT.THP_ALIGN, THP_ALIGN_POLICIES.indexOf('linux-6.12'));
  vm.setRoot(ROOT.KHUGEPAGED_MAX_PTES_NONE, HPAGE_PMD_NR - 1);
  vm.setRoot(ROOT.KHUGEPAGED_PAGES_TO_SCAN, 8 * HPAGE_PMD_NR);
  vm.setRoot(ROOT.KHUGEPAGED_DEFRAG, 1);
}

export function thpSettings(vm: Vm): ThpSettings {
  return {
    enabled: THP_ENABLED[vm.root(ROOT.THP_ENABLED)] as ThpEnabled,
    defrag: THP_DEFRAG[vm.root(ROOT.THP_DEFRAG)] as ThpDefrag,
    useZeroPage: vm.root(ROOT.THP_USE_ZERO_PAGE) !== 0,
    align: THP_ALIGN_POLICIES[vm.root(ROOT.THP_ALIGN)] as ThpAlignPolicy,
    maxPtesNone: vm.root(ROOT.KHUGEPAGED_MAX_PTES_NONE),
    pagesToScan: vm.root(ROOT.KHUGEPAGED_PAGES_TO_SCAN),
    khugepagedDefrag: vm.root(ROOT.KHUGEPAGED_DEFRAG) !== 0,
  };
}

export function setThpSettings(vm: Vm, change: Partial<ThpSettings>): void {
  if (change.enabled !== undefined) {
    const i = THP_ENABLED.indexOf(change.enabled);
    if (i < 0) throw new ArgumentError(`THP enabled '${String(change.enabled)}': expected one of ${THP_ENABLED.join(', ')}`);
    vm.setRoot(ROOT.THP_ENABLED, i);
  }
  if (change.defrag !== undefined) {
    const i = THP_DEFRAG.indexOf(change.defrag);
    if (i < 0) throw new ArgumentError(`THP defrag '${String(change.defrag)}': expected one of ${THP_DEFRAG.join(', ')}`);
    vm.setRoot(ROOT.THP_DEFRAG, i);
  }
  if (change.align !== undefined) {
    const i = THP_ALIGN_POLICIES.indexOf(change.align);
    if (i < 0) throw new ArgumentError(`THP alignment '${String(change.align)}': expected one of ${THP_ALIGN_POLICIES.join(', ')}`);
    vm.setRoot(ROOT.THP_ALIGN, i);
  }
  if (change.khugepagedDefrag !== undefined) vm.setRoot(ROOT.KHUGEPAGED_DEFRAG, change.khugepagedDefrag ? 1 : 0);
  if (change.useZeroPage !== undefined) vm.setRoot(ROOT.THP_USE_ZERO_PAGE, change.useZeroPage ? 1 : 0);
  if (change.maxPtesNone !== undefined) {
    if (!Number.isInteger(change.maxPtesNone) || change.maxPtesNone < 0 || change.maxPtesNone > HPAGE_PMD_NR - 1) {
      throw new ArgumentError(`max_ptes_none ${change.maxPtesNone}: expected an integer in [0, ${HPAGE_PMD_NR - 1}]`);
    }
    vm.setRoot(ROOT.KHUGEPAGED_MAX_PTES_NONE, change.maxPtesNone);
  }
  if (change.pagesToScan !== undefined) {
    if (!Number.isInteger(change.pagesToScan) || change.pagesToScan < 1) throw new ArgumentError(`pages_to_scan ${change.pagesToScan}: expected a positive integer`);
    vm.setRoot(ROOT.KHUGEPAGED_PAGES_TO_SCAN, change.pagesToScan);
  }
}
