/**
 * vm_area_struct: one object of the slab cache 'vm_area_struct' per mapping, 32 bytes:
 *
 *   byte 0   f64 start   (vm_start, page-aligned)
 *   byte 8   f64 end     (vm_end, exclusive, page-aligned)
 *   byte 16  i32 flags   (VM_* bits, Linux's values: types.ts)
 *   byte 20  i32 mm      (paddr of the owning mm_struct)
 *   byte 24  i32 anonVma (0 until the first fault: an id standing for Linux's anon_vma, shared by the
 *                         pieces a split makes; vma_merge() only joins VMAs whose ids agree or are 0)
 *   byte 28  i32 unused
 *
 * The pgoff of an anonymous VMA is always start >> PAGE_SHIFT (kmem has no mremap), so it is not stored.
 *
 * Fields are read and written through whole-RAM typed views (`VmaFields`), never through per-object
 * wrappers, so that a walk over thousands of VMAs allocates nothing.
 */
export const VMA_BYTES = 32;
export const VMA_ALIGN = 8;

export class VmaFields {
  constructor(
    readonly w: Int32Array,
    readonly f: Float64Array,
  ) {}

  start(vma: number): number {
    return this.f[vma / 8] as number;
  }
  end(vma: number): number {
    return this.f[vma / 8 + 1] as number;
  }
  flags(vma: number): number {
    return this.w[vma / 4 + 4] as number;
  }
  mm(vma: number): number {
    return this.w[vma / 4 + 5] as number;
  }
  anonVma(vma: number): number {
    return this.w[vma / 4 + 6] as number;
  }
  setStart(vma: number, vaddr: number): void {
    this.f[vma / 8] = vaddr;
  }
  setEnd(vma: number, vaddr: number): void {
    this.f[vma / 8 + 1] = vaddr;
  }
  setFlags(vma: number, flags: number): void {
    this.w[vma / 4 + 4] = flags;
  }
  setAnonVma(vma: number, id: number): void {
    this.w[vma / 4 + 6] = id;
  }
  init(vma: number, mm: number, start: number, end: number, flags: number, anonVma: number): void {
    this.f[vma / 8] = start;
    this.f[vma / 8 + 1] = end;
    this.w[vma / 4 + 4] = flags;
    this.w[vma / 4 + 5] = mm;
    this.w[vma / 4 + 6] = anonVma;
    this.w[vma / 4 + 7] = 0;
  }
}
