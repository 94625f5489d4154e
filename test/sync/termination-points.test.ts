// The recovery from workers killed mid-operation (docs/slab.md, "A worker killed in the middle of
// an operation") rests on where V8 stops a worker that terminate() kills: at a function's entry, a
// loop's back edge or an Atomics call's entry, never between an Atomics operation and the plain
// store after it, and without running `finally` blocks. This checks the two facts the design uses,
// so that a Node or V8 that stops elsewhere fails here first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { Prng } from '../../src/util/prng.ts';

/** Runs `body` in a loop in a plain worker over a shared Int32Array, kills it after `delayMs`, returns the array. */
async function killLoop(body: string, delayMs: number): Promise<Int32Array> {
  const words = new Int32Array(new SharedArrayBuffer(16));
  const worker = new Worker(`const a = new Int32Array(require('node:worker_threads').workerData); try { for (;;) { ${body} } } finally { a[3] = 1; }`, { eval: true, workerData: words.buffer });
  await once(worker, 'online');
  // Until the loop has run a while, then a little more.
  while (Atomics.load(words, 0) < 1000) await new Promise((resolve) => setTimeout(resolve, 1));
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  await worker.terminate();
  return words;
}

test('the check can see a stop between two stores: with an Atomics call between them, a kill lands there', async () => {
  // The control for the test below: the same loop and kill with the Atomics call between the two
  // counters' stores (V8 stops at the call's entry), so that a harness that could not see a split
  // would fail here. Measured on this machine, 5 of 60 and 15 of 40 kills landed in the gap: at
  // one in twelve, 100 tries all miss it with odds below 10⁻³.
  const prng = new Prng(9);
  let split = false;
  for (let trial = 0; trial < 100 && !split; trial++) {
    const words = await killLoop('a[0] = a[0] + 1; Atomics.or(a, 2, 0); a[1] = a[1] + 1;', 5 + prng.int(20));
    split = words[0] === (words[1] as number) + 1;
  }
  assert.ok(split, 'no kill fell between the two stores in 100 tries');
});

test('a terminated worker never stops between an Atomics operation and the store after it, and runs no finally block', async () => {
  const prng = new Prng(5);
  for (let trial = 0; trial < 20; trial++) {
    const words = await killLoop('Atomics.add(a, 0, 1); a[1] = a[1] + 1;', 5 + prng.int(20));
    assert.equal(words[0], words[1], `trial ${trial}: stopped between the add and the store`);
    assert.equal(words[3], 0, 'a finally block ran');
  }
});
