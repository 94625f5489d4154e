import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../../src/mm/kernel.ts';
import { PAGE_SIZE, PageFlag } from '../../../src/mm/types.ts';
import { MAP, PROT } from '../../../src/mm/vm/types.ts';
import { CrashDump, describeDump } from '../../../src/mm/dump/read.ts';
import { writeDump } from '../../../src/mm/dump/write.ts';
import { DumpFormatError, DumpLevel, PageClass } from '../../../src/mm/dump/types.ts';
import { Prng } from '../../../src/util/prng.ts';

/** The frame mapped at vaddr (the software walker, as copy_from_user finds it). */
export function frameOf(kernel: Kernel, mm: { translates(v: number, a: 'read'): boolean }, vaddr: number): number {
  assert.ok(mm.translates(vaddr, 'read'));
  return Math.floor(kernel.vm.walker.frame / PAGE_SIZE);
}

/** A kernel with user pages (random bytes), slab objects, a tagged user page and free memory. */
function machine(): { kernel: Kernel; user: Uint8Array; userAddr: number; secretPfn: number; secret: Uint8Array; mm: ReturnType<Kernel['vm']['createAddressSpace']> } {
  const kernel = Kernel.boot({ ramBytes: '32MiB', cpus: 1 });
  const prng = new Prng(7);
  const mm = kernel.vm.createAddressSpace();
  const userAddr = mm.mmap(0, 16 * PAGE_SIZE, PROT.READ | PROT.WRITE, MAP.PRIVATE | MAP.ANONYMOUS);
  const user = new Uint8Array(16 * PAGE_SIZE);
  for (let i = 0; i < user.length; i++) user[i] = prng.int(255) + 1;
  mm.write(userAddr, user);
  for (let i = 0; i < 200; i++) kernel.kmalloc(100);
  // A secret in one of the user pages: find its frame through the page tables and tag it.
  const secret = new Uint8Array(64).map(() => prng.int(256));
  mm.write(userAddr + 3 * PAGE_SIZE, secret);
  const secretPfn = frameOf(kernel, mm, userAddr + 3 * PAGE_SIZE);
  kernel.memMap.flags[secretPfn]! |= PageFlag.Sensitive;
  return { kernel, user, userAddr, secretPfn, secret, mm };
}

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength).indexOf(needle) >= 0;
}

test('every frame is classified from struct page; level 0 keeps all but sensitive, 31 drops zero, user and free', () => {
  const { kernel, secretPfn, secret } = machine();
  const n = kernel.memMap.nrPages;
  const all = CrashDump.parse(writeDump(kernel, { dumpLevel: 0 }));
  const byName = Object.fromEntries(all.header.classes.map((c) => [c.name, c]));
  assert.equal(all.header.classes.reduce((s, c) => s + c.pages, 0), n);
  assert.equal(byName.user!.pages, 15, '16 mapped anonymous pages, one tagged');
  assert.equal(byName.sensitive!.pages, 1);
  assert.equal(byName.sensitive!.excluded, 1, 'no level includes sensitive pages');
  assert.equal(byName.cache!.pages, 0, 'kmem has no page cache');
  assert.ok(byName.free!.pages > n / 2);
  assert.equal(all.header.includedPages, n - 1);
  assert.equal(all.classOf(secretPfn), PageClass.Sensitive);
  assert.equal(all.page(secretPfn), null);
  assert.ok(!contains(all.pagesBytes(), secret), 'the secret is in no page of the dump');
  // Page 0 (boot header) is kernel data and kept byte for byte.
  assert.deepEqual(all.page(0), new Uint8Array(kernel.buffer, 0, PAGE_SIZE));

  const min = CrashDump.parse(writeDump(kernel, { dumpLevel: DumpLevel.All }));
  const m = Object.fromEntries(min.header.classes.map((c) => [c.name, c]));
  assert.equal(m.user!.excluded, m.user!.pages);
  assert.equal(m.free!.excluded, m.free!.pages);
  assert.equal(m.zero!.excluded, m.zero!.pages);
  assert.equal(min.header.includedPages, m.kernel!.pages - m.kernel!.excluded);
  for (let pfn = 0; pfn < n; pfn++) if (min.page(pfn) !== null) assert.equal(min.classOf(pfn), PageClass.Kernel);
  const userOnly = CrashDump.parse(writeDump(kernel, { dumpLevel: DumpLevel.User }));
  assert.equal(userOnly.header.classes[PageClass.Free]!.excluded, 0);
  assert.equal(userOnly.header.classes[PageClass.User]!.excluded, 15);
  assert.match(describeDump(min), /contains: kernel\nexcluded: zero, user, free, sensitive/);
  kernel.validate();
});

test("the 'zero' policy keeps sensitive frames as zeros; with tagging off the search finds the secret", () => {
  const { kernel, secretPfn, secret } = machine();
  const zeroed = CrashDump.parse(writeDump(kernel, { dumpLevel: 0, sensitive: 'zero' }));
  assert.deepEqual(zeroed.page(secretPfn), new Uint8Array(PAGE_SIZE));
  assert.ok(!contains(zeroed.pagesBytes(), secret));
  const untagged = CrashDump.parse(writeDump(kernel, { dumpLevel: 0, tags: 0 }));
  assert.ok(contains(untagged.pagesBytes(), secret), 'control: the search can find it');
  const noDump = machine();
  noDump.kernel.memMap.flags[noDump.secretPfn]! &= ~PageFlag.Sensitive;
  noDump.kernel.memMap.flags[noDump.secretPfn]! |= PageFlag.NoDump;
  assert.equal(CrashDump.parse(writeDump(noDump.kernel, { dumpLevel: 0 })).page(noDump.secretPfn), null, 'NoDump (MADV_DONTDUMP) also keeps a page out');
});

test('a damaged, truncated or foreign dump is a DumpFormatError', () => {
  const { kernel } = machine();
  const bytes = writeDump(kernel, { dumpLevel: DumpLevel.All });
  CrashDump.parse(bytes);
  assert.throws(() => CrashDump.parse(bytes.subarray(0, 50)), DumpFormatError);
  assert.throws(() => CrashDump.parse(bytes.subarray(0, bytes.length - 1)), /truncated/);
  const flipped = bytes.slice();
  flipped[flipped.length - 10]! ^= 1;
  assert.throws(() => CrashDump.parse(flipped), /the file is damaged/);
  const header = bytes.slice();
  header[20]! ^= 2;
  assert.throws(() => CrashDump.parse(header), /header is damaged/);
  const foreign = bytes.slice();
  foreign[0] = 0;
  assert.throws(() => CrashDump.parse(foreign), /not a kmem crash dump/);
  assert.throws(() => writeDump(kernel, { dumpLevel: 32 }), /expected an integer in \[0, 31\]/);
});
