/**
 * The explorer's secret-memory machine: a kmem kernel with one process that holds two secrets made
 * by secretAlloc (mm/secret/secretmem.ts) — a 32-byte key and a 5000-byte one — next to an ordinary
 * buffer, and an emulated CPU bound to the process. The page draws each region byte-granule by
 * granule (guard pages, slack, the object right-aligned against its trailing guard) and the kernel's
 * direct map around the frames it hid, and lets the user overflow a secret from the CPU (a SegvError
 * at the guard's first byte) or read it through the direct map from the kernel (a SecretAccessError).
 *
 * The counts drawn are the kernel's: secret pages = secretStats().sensitivePages, holes =
 * secretStats().directMapHoles, split 2 MiB entries = direct_map_level2_splits.
 */
import { Cpu } from '../../machine/cpu.ts';
import { presetByName } from '../../machine/tlb-presets.ts';
import { Kernel } from '../../mm/kernel.ts';
import { directMapPresent } from '../../mm/secret/direct-map.ts';
import { secretAlloc, secretFree } from '../../mm/secret/secretmem.ts';
import { userPfn } from '../../mm/secret/tags.ts';
import type { SecretRegion } from '../../mm/secret/types.ts';
import { secretStats } from '../../mm/secret/validate.ts';
import { bindCpu } from '../../mm/vm/cpu-binding.ts';
import type { AddressSpace } from '../../mm/vm/mm-struct.ts';
import { PTE_HUGE } from '../../machine/pte.ts';
import { DIRECT_MAP_BASE, MAP, PAGE_SIZE, PROT, PTRS_PER_TABLE } from '../../mm/vm/types.ts';
import { Prng } from '../../util/prng.ts';

/** What a 64-byte granule of a region's pages holds. */
export const Granule = { Guard: 0, Slack: 1, Secret: 2, Fault: 3 } as const;
export type Granule = (typeof Granule)[keyof typeof Granule];
export const GRANULE_NAMES: readonly string[] = ['guard page (PROT_NONE)', 'slack (mapped, unused)', 'the secret', 'where the overflow faulted'];
export const GRANULE_BYTES = 64;

/** A direct-map entry of a split 2 MiB range. */
export const DirectEntry = { Present: 0, Hole: 1, BeyondRam: 2 } as const;
export const DIRECT_ENTRY_NAMES: readonly string[] = ['mapped (4 KiB entry)', 'hole: a secret frame', 'beyond RAM'];

export interface PageRow {
  label: string;
  vaddr: number;
  granules: Uint8Array;
  /** The frame, or -1 for a guard page. */
  pfn: number;
}

export interface LabSecret {
  name: string;
  region: SecretRegion;
}

export interface SplitTable {
  /** The first frame the 2 MiB entry covers. */
  firstPfn: number;
  entries: Uint8Array;
}

export class SecretLab {
  readonly kernel: Kernel;
  readonly mm: AddressSpace;
  readonly cpu: Cpu;
  readonly secrets: LabSecret[] = [];
  /** The address the last overflow faulted at, or -1. */
  faultAt = -1;
  private readonly rng: Prng;

  constructor(seed: number) {
    this.rng = new Prng(seed);
    this.kernel = Kernel.boot({ ramBytes: '32MiB' });
    this.mm = this.kernel.vm.createAddressSpace();
    this.cpu = new Cpu(this.kernel.ram, { preset: presetByName('skylake') });
    bindCpu(this.kernel.vm, this.cpu).switchTo(this.mm);
    // An ordinary buffer first, so the secrets have a neighbour in the address space.
    const plain = this.mm.mmap(0, 4 * PAGE_SIZE, PROT.READ | PROT.WRITE, MAP.PRIVATE | MAP.ANONYMOUS);
    this.cpu.storeBytes(plain, this.randomBytes(4 * PAGE_SIZE));
    this.allocate('key (32 B)', 32);
    this.allocate('secret (5000 B)', 5000);
  }

  allocate(name: string, sizeBytes: number): LabSecret {
    const region = secretAlloc(this.mm, sizeBytes);
    this.cpu.storeBytes(region.addr, this.randomBytes(sizeBytes));
    const secret = { name, region };
    this.secrets.push(secret);
    return secret;
  }

  free(secret: LabSecret): void {
    secretFree(this.mm, secret.region.addr);
    this.secrets.splice(this.secrets.indexOf(secret), 1);
    if (this.faultAt >= secret.region.start - PAGE_SIZE && this.faultAt < secret.region.start + (secret.region.nrPages + 1) * PAGE_SIZE) this.faultAt = -1;
  }

  /**
   * The CPU writes the secret and `extraBytes` more (a buffer overflow in the owner). Returns the
   * error it raised (a SegvError at the trailing guard's first byte), or null if none.
   */
  overflow(secret: LabSecret, extraBytes: number): Error | null {
    try {
      this.cpu.storeBytes(secret.region.addr, this.randomBytes(secret.region.sizeBytes + extraBytes));
      return null;
    } catch (error) {
      if (!(error instanceof Error)) throw error;
      const vaddr = (error as { vaddr?: unknown }).vaddr;
      if (typeof vaddr === 'number') this.faultAt = vaddr;
      return error;
    }
  }

  /** The kernel reads the secret's first frame through the direct map: a SecretAccessError. */
  kernelRead(secret: LabSecret): Error | null {
    const pfn = userPfn(this.mm, secret.region.start);
    try {
      this.kernel.vm.kernelRead(DIRECT_MAP_BASE + pfn * PAGE_SIZE, 16);
      return null;
    } catch (error) {
      if (!(error instanceof Error)) throw error;
      return error;
    }
  }

  /** Each secret's pages, the guards around them included, a granule per cell. */
  pageRows(): PageRow[] {
    const rows: PageRow[] = [];
    const perPage = PAGE_SIZE / GRANULE_BYTES;
    for (const { name, region } of this.secrets) {
      const first = region.start - PAGE_SIZE;
      const end = region.start + (region.nrPages + 1) * PAGE_SIZE;
      for (let page = first; page < end; page += PAGE_SIZE) {
        const guard = page < region.start || page >= region.start + region.nrPages * PAGE_SIZE;
        const granules = new Uint8Array(perPage);
        for (let g = 0; g < perPage; g++) {
          const lo = page + g * GRANULE_BYTES;
          const hi = lo + GRANULE_BYTES;
          let kind: Granule = guard ? Granule.Guard : hi > region.addr && lo < region.addr + region.sizeBytes ? Granule.Secret : Granule.Slack;
          if (this.faultAt >= lo && this.faultAt < hi) kind = Granule.Fault;
          granules[g] = kind;
        }
        const label = guard ? (page < region.start ? `${name}: guard` : 'guard') : `page ${(page - region.start) / PAGE_SIZE}`;
        rows.push({ label, vaddr: page, granules, pfn: guard ? -1 : userPfn(this.mm, page) });
      }
    }
    return rows;
  }

  /** The direct map's 2 MiB entries that were split into 4 KiB tables, and each entry of them. */
  splitTables(): SplitTable[] {
    const vm = this.kernel.vm;
    const out: SplitTable[] = [];
    for (let firstPfn = 0; firstPfn < vm.pages.nrPages; firstPfn += PTRS_PER_TABLE) {
      const pmd = vm.tables.entry(vm.kernelPgdPfn, DIRECT_MAP_BASE + firstPfn * PAGE_SIZE, 2, false);
      if (pmd < 0 || ((vm.u[pmd] as number) & PTE_HUGE) !== 0) continue;
      const entries = new Uint8Array(PTRS_PER_TABLE);
      for (let i = 0; i < PTRS_PER_TABLE; i++) {
        const pfn = firstPfn + i;
        entries[i] = pfn >= vm.pages.nrPages ? DirectEntry.BeyondRam : directMapPresent(vm, pfn) ? DirectEntry.Present : DirectEntry.Hole;
      }
      out.push({ firstPfn, entries });
    }
    return out;
  }

  /** 2 MiB direct-map entries in all (RAM / 2 MiB, rounded up). */
  get directMapEntries(): number {
    return Math.ceil(this.kernel.vm.pages.nrPages / PTRS_PER_TABLE);
  }

  stats(): ReturnType<typeof secretStats> {
    return secretStats(this.kernel.vm);
  }

  private randomBytes(n: number): Uint8Array {
    const bytes = new Uint8Array(n);
    for (let i = 0; i < n; i++) bytes[i] = this.rng.int(256);
    return bytes;
  }
}
