// Resume from a byte copy: copy the arena mid-run, load it in a new process, attach, continue.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kernel } from '../../src/mm/kernel.ts';
import { Prng } from '../../src/util/prng.ts';

test('a byte copy taken mid-run resumes in a new process: objects kept, slots offlined, lock recovered, allocation goes on', () => {
  for (const shared of [false, true]) {
    const kernel = Kernel.boot({ ramBytes: '32MiB', shared, cpus: 3 });
    const w = new Int32Array(kernel.buffer);
    const prng = new Prng(5);
    const other = Kernel.attach(kernel.buffer); // a second CPU with magazines of its own
    kernel.createCache('node', 48, { ctor: (addr) => void (w[(addr >>> 2) + 1] = 0x5eed) });
    kernel.createCache('ctorless', 64, { ctor: () => undefined });
    kernel.createCache('big', 700);
    other.registerCtor('node', (addr) => void (w[(addr >>> 2) + 1] = 0x5eed));
    const live: { addr: number; cache: string | null; stamp: number }[] = [];
    for (const k of [kernel, other]) {
      for (let i = 0; i < 3000; i++) {
        const name = (['node', 'big', null] as const)[i % 3] ?? null;
        const addr = name === null ? k.kmalloc(prng.range(8, 3000)) : k.slab.cache(name).alloc();
        const stamp = prng.nextU32() | 0;
        w[addr >>> 2] = stamp;
        live.push({ addr, cache: name, stamp });
      }
    }
    // Free a third at random, so that both CPUs' magazines hold rounds.
    for (let i = 0; i < 2000; i++) {
      const [o] = live.splice(prng.int(live.length), 1);
      const k = i % 2 === 0 ? kernel : other;
      if (o!.cache === null) k.kfree(o!.addr);
      else k.slab.cache(o!.cache).free(o!.addr);
    }
    const magazines = kernel.slab.stats().caches.reduce((n, c) => n + c.inMagazines, 0);
    assert.ok(magazines > 0, 'objects sit in magazines at the copy');
    other.slab.cache('big').slabLock.acquire(); // a lock held when the copy is taken
    const dir = mkdtempSync(join(tmpdir(), 'kmem-resume-'));
    writeFileSync(join(dir, 'image'), new Uint8Array(kernel.buffer.slice(0)));
    writeFileSync(join(dir, 'live.json'), JSON.stringify(live));
    const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./resume-child.ts', import.meta.url)), join(dir, 'image'), join(dir, 'live.json')], {
      encoding: 'utf8',
    });
    assert.equal(child.status, 0, child.stderr);
    const out = JSON.parse(child.stdout) as Record<string, unknown>;
    assert.equal(out.onlineAfterAttach, 0, 'every slot of the old process offlined at attach');
    assert.equal((out.recoveredAtAttach as string[]).length, 1, 'the held lock was taken over');
    assert.match((out.recoveredAtAttach as string[])[0]!, /CPU \d \(epoch \d+, offlined/);
    assert.equal(out.stampsIntact, true);
    assert.match(out.ctorlessError as string, /constructor/);
    assert.equal(out.freed, live.length);
    assert.equal(out.doublesRefused, live.length, 'each object was allocated exactly once');
    assert.equal(out.constructed, true);
    assert.equal(out.inUse, 0);
    assert.equal(out.validated, true);
  }
});
