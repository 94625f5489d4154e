// Hibernation: an image of RAM written to a file, resumed in a fresh process that goes on working.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kernel } from '../../../src/mm/kernel.ts';
import { PAGE_SIZE, PageFlag } from '../../../src/mm/types.ts';
import { MAP, PROT } from '../../../src/mm/vm/types.ts';
import { hibernate, readHibernateHeader, resume } from '../../../src/mm/hibernate/image.ts';
import { hibernateToFile } from '../../../src/mm/hibernate/file.ts';
import { HibernationImageError, HibernationRefusedError } from '../../../src/mm/hibernate/types.ts';
import { Prng } from '../../../src/util/prng.ts';
import type { Expected } from './resume-child.ts';

const ctor = (buffer: ArrayBufferLike) => (addr: number): void => void (new Int32Array(buffer)[(addr >>> 2) + 1] = 0x5eed);

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength).indexOf(needle) >= 0;
}

/** A running machine: two processes with written mappings, slab objects of a cache with a constructor, one secret page. */
function machine(shared: boolean): { kernel: Kernel; expected: Expected; contents: Uint8Array[]; secret: Uint8Array } {
  const kernel = Kernel.boot({ ramBytes: '32MiB', shared, cpus: 2 });
  const prng = new Prng(11);
  kernel.createCache('node', 48, { ctor: ctor(kernel.buffer) });
  const w = new Int32Array(kernel.buffer);
  const objects: Expected['objects'] = [];
  for (let i = 0; i < 2000; i++) {
    const cache = i % 2 === 0 ? 'node' : null;
    const addr = cache === null ? kernel.kmalloc(prng.range(8, 2000)) : kernel.slab.cache('node').alloc();
    const stamp = prng.nextU32() | 0;
    w[addr >>> 2] = stamp;
    objects.push({ addr, cache, stamp });
  }
  for (let i = 0; i < 600; i++) {
    const [o] = objects.splice(prng.int(objects.length), 1);
    if (o!.cache === null) kernel.kfree(o!.addr);
    else kernel.slab.cache('node').free(o!.addr);
  }
  const mappings: Expected['mappings'] = [];
  const contents: Uint8Array[] = [];
  for (let p = 0; p < 2; p++) {
    const mm = kernel.vm.createAddressSpace();
    for (let m = 0; m < 3; m++) {
      const pages = prng.range(1, 40);
      const addr = mm.mmap(0, pages * PAGE_SIZE, PROT.READ | PROT.WRITE, MAP.PRIVATE | MAP.ANONYMOUS);
      const bytes = new Uint8Array(pages * PAGE_SIZE);
      // Some pages untouched (never faulted): they must stay unmapped and read as zeros.
      for (let pg = 0; pg < pages; pg++) if (prng.int(4) !== 0) for (let i = 0; i < PAGE_SIZE; i++) bytes[pg * PAGE_SIZE + i] = prng.int(255) + 1;
      for (let pg = 0; pg < pages; pg++) if (bytes[pg * PAGE_SIZE] !== 0) mm.write(addr + pg * PAGE_SIZE, bytes.subarray(pg * PAGE_SIZE, (pg + 1) * PAGE_SIZE));
      mappings.push({ pid: mm.pid, addr, lengthBytes: bytes.length, secretPage: -1 });
      contents.push(bytes);
    }
  }
  // A secret: the first written page of the first mapping, tagged Sensitive (as secrets-mem's API tags).
  const first = mappings[0]!;
  const page = [...Array(first.lengthBytes / PAGE_SIZE).keys()].find((pg) => contents[0]![pg * PAGE_SIZE] !== 0)!;
  const mm = kernel.vm.addressSpace(first.pid)!;
  assert.ok(mm.translates(first.addr + page * PAGE_SIZE, 'read'));
  kernel.memMap.flags[Math.floor(kernel.vm.walker.frame / PAGE_SIZE)]! |= PageFlag.Sensitive;
  first.secretPage = page;
  const secret = contents[0]!.slice(page * PAGE_SIZE, page * PAGE_SIZE + 64);
  return { kernel, expected: { objects, mappings, addressSpaces: kernel.vm.addressSpaces().length }, contents, secret };
}

test('an image written to a file resumes in a fresh process: processes, mappings, objects kept; secrets read as zeros; allocation and faults go on', () => {
  for (const shared of [false, true]) {
    const { kernel, expected, contents, secret } = machine(shared);
    const dir = mkdtempSync(join(tmpdir(), 'kmem-hibernate-'));
    try {
      const image = join(dir, 'image');
      assert.throws(() => hibernateToFile(kernel, image), HibernationRefusedError, "the default policy, 'refuse', refuses while a Sensitive frame exists");
      assert.equal(existsSync(image), false, 'a refused hibernation writes nothing');
      const sizeBytes = hibernateToFile(kernel, image, { secrets: 'exclude' });
      const bytes = readFileSync(image);
      assert.equal(bytes.length, sizeBytes);
      assert.ok(sizeBytes < kernel.ram.sizeBytes / 2, 'free frames are not saved');
      assert.ok(!contains(bytes, secret), 'the secret is not in the image');
      assert.equal(readHibernateHeader(bytes).secretPages, 1);
      writeFileSync(join(dir, 'expected.json'), JSON.stringify(expected));
      writeFileSync(join(dir, 'contents.bin'), Buffer.concat(contents));
      const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./resume-child.ts', import.meta.url)), dir], { encoding: 'utf8' });
      assert.equal(child.status, 0, child.stderr);
      const out = JSON.parse(child.stdout) as Record<string, unknown>;
      assert.equal(out.shared, shared);
      assert.equal(out.onlineAfterResume, 0, 'every CPU slot of the hibernated machine offlined');
      assert.equal(out.addressSpaces, expected.addressSpaces);
      assert.equal(out.mappingsIntact, true);
      assert.equal(out.secretZero, true, 'the excluded frame reads as zeros, still mapped to its owner');
      assert.equal(out.stampsIntact, true);
      assert.equal(out.freedOnce, expected.objects.length);
      assert.equal(out.constructed, true);
      assert.equal(out.newMappingOk, true);
      assert.equal(out.validated, true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test("the 'zero' policy saves the secret's frame as zeros; tagging off puts the secret in the image", () => {
  const { kernel, secret } = machine(false);
  const zeroed = hibernate(kernel, { secrets: 'zero' });
  const excluded = hibernate(kernel, { secrets: 'exclude' });
  assert.equal(zeroed.length, excluded.length + PAGE_SIZE, 'one more frame slot, written as zeros');
  assert.ok(!contains(zeroed, secret));
  assert.ok(contains(hibernate(kernel, { secrets: 'exclude', tags: 0 }), secret), 'control: the search can find it');
  // NoSave alone: left out under every policy, refuse included (Linux refuses for memfd_secret only).
  const k2 = machine(false);
  for (let pfn = 0; pfn < k2.kernel.memMap.nrPages; pfn++) {
    const f = k2.kernel.memMap.flags[pfn]!;
    if ((f & PageFlag.Sensitive) !== 0) k2.kernel.memMap.flags[pfn] = (f & ~PageFlag.Sensitive) | PageFlag.NoSave;
  }
  const noSave = hibernate(k2.kernel);
  assert.ok(!contains(noSave, k2.secret));
  const resumed = resume(noSave);
  resumed.validate();
});

test('a damaged or truncated image is a HibernationImageError and no kernel', () => {
  const { kernel } = machine(false);
  const bytes = hibernate(kernel, { secrets: 'exclude' });
  resume(bytes).validate();
  assert.throws(() => resume(bytes.subarray(0, bytes.length - PAGE_SIZE)), (e: unknown) => e instanceof HibernationImageError && /truncated/.test(e.message));
  assert.throws(() => resume(bytes.subarray(0, 20)), HibernationImageError);
  const flipped = bytes.slice();
  flipped[bytes.length - 100]! ^= 0x40;
  assert.throws(() => resume(flipped), /the file is damaged/);
  const header = bytes.slice();
  header[16]! ^= 1;
  assert.throws(() => resume(header), /header is damaged/);
  const foreign = bytes.slice();
  foreign[3] = 0;
  assert.throws(() => resume(foreign), /not a kmem hibernation image/);
  assert.throws(() => hibernate(kernel, { secrets: 'keep' as 'zero' }), /expected one of refuse, exclude, zero/);
});
