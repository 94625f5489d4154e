// Child process of the hibernation test: resumes the kernel from the image file in a fresh process,
// checks every process, mapping and object the parent left, then keeps allocating and faulting.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resumeFromFile } from '../../../src/mm/hibernate/file.ts';
import { PAGE_SIZE } from '../../../src/mm/types.ts';
import { MAP, PROT } from '../../../src/mm/vm/types.ts';

export interface Expected {
  objects: { addr: number; cache: string | null; stamp: number }[];
  mappings: { pid: number; addr: number; lengthBytes: number; secretPage: number }[];
  addressSpaces: number;
}

if (process.argv[1]?.endsWith('resume-child.ts')) {
  const dir = process.argv[2] as string;
  const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Expected;
  const contents = readFileSync(join(dir, 'contents.bin'));
  let w: Int32Array<ArrayBufferLike> = new Int32Array(0);
  const kernel = resumeFromFile(join(dir, 'image'), { ctors: { node: (addr) => void (w[(addr >>> 2) + 1] = 0x5eed) } });
  w = new Int32Array(kernel.buffer);
  const out: Record<string, unknown> = {};
  out.shared = kernel.ram.shared;
  // resume() validated the kernel, which claimed this process's slot: every other one was offlined.
  const mine = kernel.cpuClaim().cpu;
  out.onlineAfterResume = kernel.stats().cpuSlots.filter((s) => s.online && s.cpu !== mine).length;
  out.addressSpaces = kernel.vm.addressSpaces().length;
  let at = 0;
  let intact = true;
  let secretZero = true;
  for (const m of expected.mappings) {
    const mm = kernel.vm.addressSpace(m.pid);
    if (mm === undefined) {
      intact = false;
      continue;
    }
    const want = contents.subarray(at, at + m.lengthBytes);
    at += m.lengthBytes;
    for (let pg = 0; pg < m.lengthBytes / PAGE_SIZE; pg++) {
      const vaddr = m.addr + pg * PAGE_SIZE;
      const wantPage = want.subarray(pg * PAGE_SIZE, (pg + 1) * PAGE_SIZE);
      if (wantPage[0] === 0) {
        // Never written: still not present (reading would map the zero page, so check first).
        if (mm.translates(vaddr, 'read')) intact = false;
        continue;
      }
      const got = mm.read(vaddr, PAGE_SIZE);
      if (pg === m.secretPage) secretZero &&= got.every((b) => b === 0);
      else if (Buffer.compare(got, wantPage) !== 0) intact = false;
    }
  }
  out.mappingsIntact = intact;
  out.secretZero = secretZero;
  out.stampsIntact = expected.objects.every((o) => w[o.addr >>> 2] === o.stamp);
  let freed = 0;
  for (const o of expected.objects) {
    if (o.cache === null) kernel.kfree(o.addr);
    else kernel.slab.cache(o.cache).free(o.addr);
    freed++;
  }
  out.freedOnce = freed;
  const nodes = kernel.slab.cache('node');
  const more = Array.from({ length: 3000 }, () => nodes.alloc());
  out.constructed = more.every((a) => w[(a >>> 2) + 1] === 0x5eed);
  // A new mapping in an old process, faulted in page by page, and a new process.
  const old = kernel.vm.addressSpace(expected.mappings[0]!.pid)!;
  const a = old.mmap(0, 64 * PAGE_SIZE, PROT.READ | PROT.WRITE, MAP.PRIVATE | MAP.ANONYMOUS);
  for (let pg = 0; pg < 64; pg++) old.write(a + pg * PAGE_SIZE, new Uint8Array([pg + 1, 2, 3]));
  const fresh = kernel.vm.createAddressSpace();
  const b = fresh.mmap(0, 16 * PAGE_SIZE, PROT.READ | PROT.WRITE, MAP.PRIVATE | MAP.ANONYMOUS);
  fresh.write(b + 5 * PAGE_SIZE, new Uint8Array([9, 9]));
  out.newMappingOk = old.read(a + 63 * PAGE_SIZE, 3).join() === '64,2,3' && fresh.read(b + 5 * PAGE_SIZE, 2).join() === '9,9';
  for (const x of more) nodes.free(x);
  kernel.validate();
  out.validated = true;
  process.stdout.write(JSON.stringify(out));
}
