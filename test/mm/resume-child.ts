// Child process of the resume test: loads the byte copy of an arena another process was using,
// attaches to it (resume: its CPU slots offlined, magazines flushed, a held lock taken over) and
// checks that everything allocated before the copy still is, with its bytes, then keeps going.
import { readFileSync } from 'node:fs';
import { Kernel } from '../../src/mm/kernel.ts';
import { ArgumentError } from '../../src/util/errors.ts';

interface Live {
  addr: number;
  cache: string | null;
  stamp: number;
}
const [imagePath, livePath] = process.argv.slice(2) as [string, string];
const image = readFileSync(imagePath);
const buffer = image.buffer.slice(image.byteOffset, image.byteOffset + image.byteLength);
const live = JSON.parse(readFileSync(livePath, 'utf8')) as Live[];
const out: Record<string, unknown> = {};
const kernel = Kernel.attach(buffer, { resume: true, ctors: { node: (addr) => void (new Int32Array(buffer)[(addr >>> 2) + 1] = 0x5eed) } });
out.onlineAfterAttach = kernel.stats().cpuSlots.filter((s) => s.online).length;
out.recoveredAtAttach = kernel.lockRecoveries.map((r) => r.holder);
kernel.validate();
const w = new Int32Array(buffer);
out.stampsIntact = live.every((o) => w[o.addr >>> 2] === o.stamp);
try {
  kernel.slab.cache('ctorless');
  out.ctorlessError = 'none';
} catch (error) {
  out.ctorlessError = error instanceof ArgumentError ? error.message : String(error);
}
// Everything allocated before the copy is still allocated: each frees exactly once.
let freed = 0;
let doubles = 0;
for (const o of live) {
  const free = (): void => (o.cache === null ? kernel.kfree(o.addr) : kernel.slab.cache(o.cache).free(o.addr));
  free();
  freed++;
  try {
    free();
  } catch {
    doubles++;
  }
}
out.freed = freed;
out.doublesRefused = doubles;
// Allocation continues, constructors included.
const nodes = kernel.slab.cache('node');
const more = Array.from({ length: 5000 }, () => nodes.alloc());
out.constructed = more.every((a) => w[(a >>> 2) + 1] === 0x5eed);
for (const a of more) nodes.free(a);
const km = Array.from({ length: 5000 }, (_, i) => kernel.kmalloc(16 + i));
for (const a of km) kernel.kfree(a);
kernel.validate();
out.inUse = kernel.slab.stats().caches.filter((c) => !c.name.startsWith('kmem_')).reduce((n, c) => n + c.inUse, 0);
out.validated = true;
process.stdout.write(JSON.stringify(out));
