// The address-space locks record their holder by CPU slot. A worker killed holding one (inside
// mmap(), a fault, reclaim) cannot be repaired after, since nothing rebuilds half-changed page
// tables and VMAs: the next thread that wants the lock gets LockHolderDiedError at once, naming the
// dead CPU, instead of waiting 30 s for LockTimeoutError. Here a second kernel handle in this
// thread plays the worker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kernel } from '../../../src/mm/kernel.ts';
import { LockHolderDiedError } from '../../../src/sync/lock-word.ts';
import { MAP, PROT } from '../../../src/mm/vm/types.ts';
import type { AddressSpace } from '../../../src/mm/vm/mm-struct.ts';

const RW = PROT.READ | PROT.WRITE;
const ANON = MAP.PRIVATE | MAP.ANONYMOUS;

/** A kernel, an address space, and the same address space seen from a second handle (another CPU: the worker that dies). */
function sharedMm(): { kernel: Kernel; mm: AddressSpace; theirs: AddressSpace; cpu: number } {
  const kernel = Kernel.boot({ ramBytes: '64MiB', shared: true, cpus: 3 });
  const mm = kernel.vm.createAddressSpace();
  const other = Kernel.attach(kernel.buffer);
  return { kernel, mm, theirs: other.vm.addressSpace(mm.pid)!, cpu: other.cpu };
}

test('an mmap_lock whose holder died is refused at once with the dead CPU named, and nothing is taken over', () => {
  const { kernel, mm, theirs, cpu } = sharedMm();
  theirs.lockMmap(); // the worker dies inside mmap()
  kernel.offlineCpu(cpu);
  const begun = performance.now();
  assert.throws(
    () => mm.mmap(0, 1 << 20, RW, ANON),
    (e: unknown) => e instanceof LockHolderDiedError && new RegExp(`held by CPU ${cpu} \\(epoch \\d+, offlined since\\), which died inside its critical section`).test(e.message),
  );
  assert.ok(performance.now() - begun < 1_000, 'refused at once, not after a wait');
  assert.equal(kernel.lockRecoveries.length, 0, 'not taken over');
  assert.throws(() => mm.mmap(0, 1 << 20, RW, ANON), LockHolderDiedError, 'and refused again');
  // A lock released normally stays usable by every thread.
  const second = kernel.vm.createAddressSpace();
  assert.ok(second.mmap(0, 1 << 20, RW, ANON) > 0);
});

test('a trylock of an mmap_lock (reclaim and compaction take the mms that map a page so) records its holder too', () => {
  const { kernel, mm, theirs, cpu } = sharedMm();
  assert.equal(theirs.lock.tryAcquire(), true);
  assert.equal(mm.lock.tryAcquire(), false, 'held: the trylock fails at once');
  kernel.offlineCpu(cpu); // the worker dies inside reclaim, holding the mm it trylocked
  assert.throws(() => mm.mmap(0, 1 << 20, RW, ANON), (e: unknown) => e instanceof LockHolderDiedError && e.message.includes(`CPU ${cpu} `));
});
