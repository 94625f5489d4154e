// Two workers share one kernel. The main thread boots it over a SharedArrayBuffer and creates a
// cache; each worker attaches, allocates and frees from the same cache (and kmalloc), and the main
// thread checks every structure afterwards.
//
//   node examples/shared-cache.mjs        (after `npm run build`, which `npm test` and `npm start` run)
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Kernel } from 'kmem';

if (isMainThread) {
  const kernel = Kernel.boot({ ramBytes: '64MiB', shared: true, cpus: 3 }); // main + 2 workers
  kernel.createCache('message', 256);
  const results = await Promise.all(
    [1, 2].map(
      (id) =>
        new Promise((resolve, reject) => {
          const worker = new Worker(new URL(import.meta.url), { workerData: { buffer: kernel.buffer, id } });
          let claim = null;
          let result = null;
          worker.on('message', (message) => {
            if (message.cpu !== undefined) claim = message; // the worker's CPU slot and epoch
            else result = message.text;
          });
          worker.once('error', reject);
          // A worker that dies without detach() (a crash, terminate()) leaves its magazines and
          // its CPU slot behind: offline that claim when it exits. After a clean detach() this
          // does nothing (the slot is free, or claimed again under another epoch).
          worker.once('exit', () => {
            if (claim !== null) kernel.offlineCpu(claim.cpu, claim.epoch);
            resolve(result);
          });
        }),
    ),
  );
  console.log(results.join('\n'));
  kernel.validate(); // every free list, slab, magazine and page checked
  console.log(kernel.slab.slabinfo().split('\n').slice(0, 3).join('\n'));
} else {
  const { buffer, id } = workerData;
  const kernel = Kernel.attach(buffer); // the same kernel: the same free lists and caches
  parentPort.postMessage(kernel.cpuClaim()); // { cpu, epoch }: for the main thread's offlineCpu()
  const messages = kernel.slab.cache('message');
  const bytes = new Uint8Array(buffer);
  let sum = 0;
  for (let i = 0; i < 100_000; i++) {
    const msg = messages.alloc(); // a byte address in the shared RAM
    bytes[msg] = id;
    sum += bytes[msg];
    messages.free(msg);
  }
  const scratch = kernel.kmalloc(1000);
  kernel.kfree(scratch);
  kernel.detach(); // return this worker's magazines and its CPU slot
  parentPort.postMessage({ text: `worker ${id}: 100000 alloc+free pairs, checksum ${sum}` });
}
