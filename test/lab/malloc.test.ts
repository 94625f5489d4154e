// The user-space malloc models (src/lab/workloads/malloc.ts): glibc's two paths (the brk heap below
// M_MMAP_THRESHOLD, a mapping of its own above), its 16-byte chunk header, glibc.malloc.hugetlb=1,
// and the hugepage-aware malloc's aligned regions, each checked against the kernel's mappings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../src/mm/kernel.ts';
import { SegvError } from '../../src/mm/vm/errors.ts';
import { setThpSettings } from '../../src/mm/vm/thp-settings.ts';
import { PMD_SIZE } from '../../src/mm/vm/types.ts';
import { hugeCoverage } from '../../src/lab/scenarios/thp-tlb.ts';
import { CHUNK_HEADER_BYTES, GlibcMalloc, HugepageAwareMalloc, MMAP_THRESHOLD_BYTES } from '../../src/lab/workloads/malloc.ts';
import { ArgumentError } from '../../src/util/errors.ts';

const MiB = 1 << 20;

function space(ramBytes = '64MiB'): { kernel: Kernel; mm: ReturnType<Kernel['vm']['createAddressSpace']> } {
  const kernel = Kernel.boot({ ramBytes });
  setThpSettings(kernel.vm, { enabled: 'madvise' });
  return { kernel, mm: kernel.vm.createAddressSpace() };
}

/** Writes one byte in every page of [ptr, ptr + bytes) and the last byte. */
function touch(mm: ReturnType<Kernel['vm']['createAddressSpace']>, ptr: number, bytes: number, value: number): void {
  for (let off = 0; off < bytes; off += 4096) mm.writeByte(ptr + off, value);
  mm.writeByte(ptr + bytes - 1, value);
}

test('glibc malloc: below the mmap threshold, 16-byte-aligned chunks from the brk heap with a 16-byte header, reused first-fit after free', () => {
  const { kernel, mm } = space();
  const heapStart = mm.brk(0);
  const malloc = new GlibcMalloc(mm);
  const a = malloc.malloc(100);
  const b = malloc.malloc(100);
  assert.equal(a % 16, 0);
  assert.equal(a, Math.ceil(heapStart / 16) * 16 + CHUNK_HEADER_BYTES, 'the first chunk starts the heap; the pointer is past its header');
  assert.equal(b - a, 128, 'chunk of 100 + 16 bytes rounded up to 16: 128');
  assert.ok(a >= heapStart && b + 100 <= mm.brkEnd, 'inside the heap');
  for (let i = 0; i < 100; i++) mm.writeByte(a + i, 1);
  for (let i = 0; i < 100; i++) mm.writeByte(b + i, 2);
  assert.equal(mm.readByte(a + 99), 1);
  malloc.free(a);
  assert.equal(malloc.malloc(64), a, 'a freed chunk large enough is reused first');
  // The heap grows by brk as requests pass its end: 2 MiB of 1 KiB chunks.
  const end0 = mm.brkEnd;
  const last = Array.from({ length: 2048 }, () => malloc.malloc(1000)).at(-1) as number;
  assert.ok(mm.brkEnd > end0 && last + 1000 <= mm.brkEnd, `brk grew from 0x${end0.toString(16)} to 0x${mm.brkEnd.toString(16)}`);
  assert.throws(() => malloc.free(a + 8), ArgumentError, 'not a pointer it returned');
  kernel.validate();
});

test('glibc malloc: from the mmap threshold up, a mapping of its own with the pointer 16 bytes in; free unmaps it', () => {
  const { kernel, mm } = space();
  const malloc = new GlibcMalloc(mm);
  assert.equal(MMAP_THRESHOLD_BYTES, 128 * 1024);
  const maps = mm.mapCount;
  const ptr = malloc.malloc(MMAP_THRESHOLD_BYTES);
  assert.equal(ptr % 4096, CHUNK_HEADER_BYTES, 'misaligned by the header, even on an aligned mapping');
  assert.equal(mm.mapCount, maps + 1);
  touch(mm, ptr, MMAP_THRESHOLD_BYTES, 7);
  assert.equal(mm.readByte(ptr + MMAP_THRESHOLD_BYTES - 1), 7, 'request + header rounded up to pages: the last byte is mapped');
  malloc.free(ptr);
  assert.equal(mm.mapCount, maps);
  assert.throws(() => mm.readByte(ptr), SegvError);
  kernel.validate();
});

test('glibc.malloc.hugetlb=1: under THP madvise, its mmapped chunks and its heap get huge pages; without it, none', () => {
  for (const hugetlb of [false, true]) {
    const { kernel, mm } = space();
    const malloc = new GlibcMalloc(mm, hugetlb);
    assert.equal(malloc.name, hugetlb ? 'glibc malloc (hugetlb=1)' : 'glibc malloc');
    const big = malloc.malloc(8 * MiB);
    touch(mm, big, 8 * MiB, 1);
    // 6 MiB of small chunks, written after the heap has grown past them.
    const small = Array.from({ length: 6 * 1024 }, () => malloc.malloc(1000));
    for (const p of small) mm.writeByte(p, 2);
    const first = small[0] as number;
    const heapBytes = (small.at(-1) as number) + 1000 - first;
    const bigCoverage = hugeCoverage(mm, big, 8 * MiB);
    const heapCoverage = hugeCoverage(mm, first, heapBytes);
    if (hugetlb) {
      // The 8 MiB + 16 B chunk's mapping is not 2 MiB-aligned: three of its four 2 MiB ranges lie inside it.
      assert.ok(bigCoverage >= 0.74, `hugetlb=1: ${bigCoverage} of the 8 MiB chunk in huge pages`);
      assert.ok(heapCoverage > 0.3, `hugetlb=1: ${heapCoverage} of the heap in huge pages`);
    } else {
      assert.equal(bigCoverage, 0);
      assert.equal(heapCoverage, 0);
    }
    kernel.validate();
  }
});

test('hugepage-aware malloc: large requests in whole, aligned, advised 2 MiB pages; small ones packed into aligned 2 MiB regions; foreign pointers refused', () => {
  const { kernel, mm } = space();
  const malloc = new HugepageAwareMalloc(mm);
  const big = malloc.malloc(3 * MiB);
  assert.equal(big % PMD_SIZE, 0);
  touch(mm, big, 4 * MiB, 1);
  assert.equal(hugeCoverage(mm, big, 4 * MiB), 1, 'rounded up to 4 MiB, all of it in huge pages under THP madvise');
  const a = malloc.malloc(100);
  const b = malloc.malloc(100);
  assert.equal(a % PMD_SIZE, 0, 'the first small object starts an aligned region');
  assert.equal(b - a, 112, 'packed: 100 bytes rounded up to 16, no header (metadata lives outside)');
  // Fill the region: the next object takes a new aligned one.
  const perRegion = Math.floor((PMD_SIZE - 224) / 1024);
  for (let i = 0; i < perRegion; i++) malloc.malloc(1024);
  const next = malloc.malloc(1024);
  assert.equal(next % PMD_SIZE, 0);
  assert.notEqual(next, a);
  for (const p of [a, b, next]) mm.writeByte(p, 3);
  assert.equal(hugeCoverage(mm, a, PMD_SIZE), 1);
  malloc.free(b); // a small object: accepted, its room not reused
  assert.throws(() => malloc.free(big + 4096), ArgumentError);
  assert.throws(() => malloc.free(0x1234_5000), ArgumentError);
  malloc.free(big);
  assert.throws(() => mm.readByte(big), SegvError);
  kernel.validate();
});
