/**
 * An IOMMU: translates a device's bus addresses (IOVAs) to physical pages, page by page, as an
 * I/O page table does; an access to an unmapped IOVA, or a write through a read-only entry, faults
 * instead of reaching RAM. Granule 4 KiB (the smallest page size of Intel VT-d and the Arm SMMU).
 *
 * Host-side state (a Map from IOVA page to entry): this is hardware whose tables the kernel would
 * rebuild on resume; the kernel-side IOVA allocator lives in mm/dma.
 *   entry = pfn · 2 + writable,   iovaPage = iova >> PAGE_SHIFT
 */
import { ArgumentError, KmemError } from '../util/errors.ts';
import { PAGE_SIZE } from './ram.ts';

/** A device access the IOMMU refused: no mapping, or a write to a read-only page. */
export class IommuFaultError extends KmemError {
  override name = 'IommuFaultError';
  constructor(
    readonly iova: number,
    readonly write: boolean,
    reason: string,
  ) {
    super(`IOMMU fault: device ${write ? 'write' : 'read'} at bus address 0x${iova.toString(16)}: ${reason}`);
  }
}

export interface IommuStats {
  mappedPages: number;
  translations: number;
  faults: number;
}

export class Iommu {
  private readonly entries = new Map<number, number>();
  translations = 0;
  faults = 0;

  /** Maps IOVA page `iovaPage` to frame `pfn`; the page must be unmapped. */
  map(iovaPage: number, pfn: number, writable: boolean): void {
    if (!Number.isInteger(iovaPage) || iovaPage < 0 || !Number.isInteger(pfn) || pfn < 0) {
      throw new ArgumentError(`IOMMU map of IOVA page ${iovaPage} to pfn ${pfn}: expected whole numbers`);
    }
    if (this.entries.has(iovaPage)) throw new ArgumentError(`IOMMU map: IOVA 0x${(iovaPage * PAGE_SIZE).toString(16)} is already mapped`);
    this.entries.set(iovaPage, pfn * 2 + (writable ? 1 : 0));
  }

  unmap(iovaPage: number): void {
    if (!this.entries.delete(iovaPage)) throw new ArgumentError(`IOMMU unmap: IOVA 0x${(iovaPage * PAGE_SIZE).toString(16)} is not mapped`);
  }

  /** The physical address of bus address `iova`, or an IommuFaultError. */
  translate(iova: number, write: boolean): number {
    this.translations++;
    const entry = this.entries.get(Math.floor(iova / PAGE_SIZE));
    if (entry === undefined) {
      this.faults++;
      throw new IommuFaultError(iova, write, 'no mapping');
    }
    if (write && entry % 2 === 0) {
      this.faults++;
      throw new IommuFaultError(iova, write, 'the page is mapped read-only');
    }
    return Math.floor(entry / 2) * PAGE_SIZE + (iova & (PAGE_SIZE - 1));
  }

  isMapped(iovaPage: number): boolean {
    return this.entries.has(iovaPage);
  }

  stats(): IommuStats {
    return { mappedPages: this.entries.size, translations: this.translations, faults: this.faults };
  }
}


