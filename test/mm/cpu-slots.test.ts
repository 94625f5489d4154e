// CPU slots at the kernel level: who holds each, claims, offline (magazines flushed, locks taken
// over), the `cpus` default and its error, and possibleCpus for slab sizing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { Kernel } from '../../src/mm/kernel.ts';
import { CpuSlotsError, MAX_CPU_SLOTS } from '../../src/mm/cpu-slots.ts';
import { calculateOrder } from '../../src/mm/slab/layout.ts';
import { ArgumentError } from '../../src/util/errors.ts';

test('cpus defaults to the host CPU count and counts the booting thread', () => {
  const kernel = Kernel.boot({ ramBytes: '16MiB', shared: true });
  assert.equal(kernel.cpus, Math.min(availableParallelism(), MAX_CPU_SLOTS));
  assert.equal(kernel.possibleCpus, kernel.cpus);
  kernel.kmalloc(64);
  assert.equal(kernel.cpu, 0, 'the booting thread holds slot 0 once it allocates');
  const online = kernel.stats().cpuSlots.filter((s) => s.online);
  assert.equal(online.length, 1);
});

test('attach claims nothing until first use; running out of slots names the `cpus` option', () => {
  const kernel = Kernel.boot({ ramBytes: '16MiB', shared: true, cpus: 2 });
  kernel.kmalloc(8);
  const two = Kernel.attach(kernel.buffer);
  assert.equal(kernel.stats().cpuSlots.filter((s) => s.online).length, 1, 'attach wrote no claim');
  two.kmalloc(8);
  assert.equal(two.cpu, 1);
  const three = Kernel.attach(kernel.buffer);
  assert.throws(() => three.kmalloc(8), (e: unknown) => e instanceof CpuSlotsError && /larger `cpus`/.test(e.message));
  two.detach();
  assert.equal(three.kmalloc(8) !== null, true, 'a detached slot is claimed again');
  assert.equal(three.cpu, 1);
  kernel.validate();
});

test('offlineCpu flushes the magazines of a CPU whose thread stopped, and frees its slot', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB', shared: true, cpus: 3 });
  const cache = kernel.createCache('obj', 128, { magazineRounds: 8 });
  const gone = Kernel.attach(kernel.buffer);
  const theirs = gone.slab.cache('obj');
  const live = Array.from({ length: 50 }, () => theirs.alloc() as number);
  for (const addr of live.slice(0, 30)) theirs.free(addr); // rounds left in that CPU's magazines
  const cpu = gone.cpu;
  assert.ok(kernel.slab.stats().caches.find((c) => c.name === 'obj')!.inMagazines > 0);
  kernel.offlineCpu(cpu); // `gone` is never used again: its thread "exited"
  const stats = kernel.slab.stats().caches.find((c) => c.name === 'obj')!;
  assert.equal(stats.inUse, 20, 'the 20 objects still in use stay allocated');
  assert.equal(kernel.stats().cpuSlots[cpu]!.online, false);
  kernel.validate();
  // The depot holds its full magazines; after a shrink nothing is left in any magazine.
  cache.shrink();
  assert.equal(kernel.slab.stats().caches.find((c) => c.name === 'obj')!.inMagazines, 0);
  for (const addr of live.slice(30)) cache.free(addr);
  cache.shrink();
  kernel.slab.destroyCache(cache); // works again: no CPU holds a magazine of it
  kernel.validate();
});

test('a slot records its holder\'s thread and claim epoch; offlineCpu with a dead claim\'s epoch leaves the slot alone once a live thread has claimed it again', () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB', shared: true, cpus: 3 });
  const gone = Kernel.attach(kernel.buffer);
  gone.kmalloc(64);
  const cpu = gone.cpu;
  const dead = kernel.stats().cpuSlots[cpu]!;
  assert.equal(dead.online, true);
  assert.equal(dead.threadId, 0, 'claimed from the main thread (a worker records its threadId)');
  gone.detach();
  const again = Kernel.attach(kernel.buffer);
  const obj = again.kmalloc(64);
  assert.equal(again.cpu, cpu, 'the freed slot is claimed again');
  const live = kernel.stats().cpuSlots[cpu]!;
  assert.notEqual(live.epoch, dead.epoch, 'a new claim, a new epoch');
  assert.equal(kernel.offlineCpu(cpu, dead.epoch), false, 'the claim of that epoch is gone: nothing to offline');
  assert.equal(kernel.stats().cpuSlots[cpu]!.online, true);
  assert.equal(kernel.stats().cpuSlots[cpu]!.epoch, live.epoch);
  again.kfree(obj);
  again.kmalloc(64);
  kernel.validate();
  assert.equal(kernel.offlineCpu(cpu, live.epoch), true);
  assert.equal(kernel.stats().cpuSlots[cpu]!.online, false);
  kernel.validate();
});

test('a lock held by an offlined CPU is taken over with a diagnosis, not called re-entrant', () => {
  for (const shared of [false, true]) {
    const kernel = Kernel.boot({ ramBytes: '16MiB', shared, cpus: 2 });
    const cache = kernel.createCache('locked', 64);
    const other = Kernel.attach(kernel.buffer);
    const theirs = other.slab.cache('locked');
    theirs.free(theirs.alloc() as number);
    theirs.slabLock.acquire(); // the worker dies inside the critical section
    const cpu = other.cpu;
    kernel.offlineCpu(cpu);
    cache.free(cache.alloc() as number);
    cache.shrink(); // takes the slab lock
    assert.equal(kernel.lockRecoveries.length, 1, `shared ${shared}`);
    assert.match(kernel.lockRecoveries[0]!.holder, new RegExp(`CPU ${cpu} \\(epoch \\d+, offlined`));
    kernel.validate();
  }
});

test('possibleCpus sizes slabs as nr_cpu_ids does, reserving only `cpus` slots', () => {
  const small = Kernel.boot({ ramBytes: '32MiB', cpus: 2 });
  const server = Kernel.boot({ ramBytes: '32MiB', cpus: 2, possibleCpus: 128 });
  const order = (k: Kernel, name: string): number => k.slab.stats().caches.find((c) => c.name === name)!.order;
  assert.equal(order(server, 'kmalloc-1k'), calculateOrder(1024, 128));
  assert.equal(order(small, 'kmalloc-1k'), calculateOrder(1024, 2));
  assert.notEqual(calculateOrder(1024, 128), calculateOrder(1024, 2));
  assert.equal(server.stats().cpuSlots.length, 2);
  assert.throws(() => Kernel.boot({ ramBytes: '16MiB', cpus: 4, possibleCpus: 2 }), ArgumentError);
  assert.throws(() => Kernel.boot({ ramBytes: '16MiB', cpus: 2, possibleCpus: 8193 }), ArgumentError);
  assert.ok(Kernel.boot({ ramBytes: '16MiB', cpus: 1, possibleCpus: 8192 }).slab.slabinfo().includes('kmalloc-8'));
});

test('an offline that meets a lock a live CPU keeps is left pending, then completed by a timer once the lock is free', async () => {
  const kernel = Kernel.boot({ ramBytes: '32MiB', shared: true, cpus: 4 });
  kernel.createCache('obj', 128, { magazineRounds: 8 });
  const gone = Kernel.attach(kernel.buffer);
  const theirs = gone.slab.cache('obj');
  const live = Array.from({ length: 13 }, () => theirs.alloc());
  for (const addr of live.slice(0, 4)) theirs.free(addr); // a partly full magazine: its rounds need the slab lock
  const keeper = Kernel.attach(kernel.buffer).slab.cache('obj');
  keeper.free(keeper.alloc()); // claims a CPU slot
  kernel.kmalloc(8);
  assert.ok(kernel.slab.stats().caches.find((c) => c.name === 'obj')!.inMagazines > 0);
  keeper.slabLock.acquire(); // a live CPU holds the slab lock
  const cpu = gone.cpu;
  assert.equal(kernel.offlineCpu(cpu), true);
  assert.deepEqual(kernel.pendingOfflines(), [cpu]);
  assert.equal(kernel.stats().cpuSlots[cpu]!.offlining, true);
  keeper.slabLock.release();
  for (let i = 0; i < 100 && kernel.pendingOfflines().length > 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(kernel.pendingOfflines(), [], 'the timer finished the offline');
  assert.equal(kernel.stats().cpuSlots[cpu]!.online, false);
  assert.equal(kernel.slab.stats().caches.find((c) => c.name === 'obj')!.inUse, 9);
  kernel.validate();
});
