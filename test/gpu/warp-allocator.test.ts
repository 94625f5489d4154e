// The three warp allocators on the real WebGPU adapter (lavapipe in CI), on both aggregation paths:
// divergent lanes, exhaustion, free/reuse cycles, atomics per allocation, misuse, and proof that
// validate() catches a corrupted device arena. Every pass is also checked by the allocator itself.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { NO_OBJECT, StateWord } from '../../src/gpu/arena-layout.ts';
import { DESIGNS, WARP_DESIGNS } from '../../src/gpu/designs.ts';
import type { WarpDesign } from '../../src/gpu/designs.ts';
import { DeviceArenaError, DeviceFreeError, GpuConfigError, GpuRequestError } from '../../src/gpu/errors.ts';
import { hardwareWarpsLabel, lanesPerGroup } from '../../src/gpu/store-coalescing.ts';
import { WarpSlabAllocator, laneCount, laneRequest, maxDispatchLanes } from '../../src/gpu/warp-allocator.ts';
import { Accelerator } from '../../src/machine/accelerator.ts';
import type { AllocPass, WarpAllocatorOptions } from '../../src/gpu/warp-allocator.ts';
import { activeLanesRequests, freeRequests, mixedRequests } from '../../src/lab/workloads/warp-requests.ts';
import { Prng } from '../../src/util/prng.ts';
import { benchLanes } from '../../bench/gpu-warp-slab.bench.ts';
import { openTestAccelerator, required } from '../helpers/gpu.ts';

const { accelerator, skip } = await openTestAccelerator();
after(() => accelerator?.destroy());

const K = 4;
const PAGES = 16;
const OBJECTS_PER_SLAB = 256;
const CAPACITY = PAGES * OBJECTS_PER_SLAB;
const AGGREGATIONS = ['auto', 'workgroup'] as const;

async function withAllocator(options: Partial<WarpAllocatorOptions> & { design: WarpDesign }, body: (a: WarpSlabAllocator) => Promise<void>): Promise<void> {
  const allocator = await WarpSlabAllocator.create(required(accelerator), {
    arenaBytes: PAGES * OBJECTS_PER_SLAB * 16,
    objectBytes: 16,
    objectsPerSlab: OBJECTS_PER_SLAB,
    maxObjectsPerLane: K,
    maxLanes: 2048,
    ...options,
  });
  try {
    await body(allocator);
  } finally {
    allocator.destroy();
  }
}

function served(pass: Pick<AllocPass, 'objects'>): number[] {
  return [...pass.objects].filter((a) => a !== NO_OBJECT);
}

for (const design of WARP_DESIGNS) {
  for (const aggregation of AGGREGATIONS) {
    const name = `${design} (${aggregation} path)`;

    test(`${name}: divergent lanes (inactive, 0..K objects, a partial last warp) are each served exactly`, { skip }, async () => {
      await withAllocator({ design, aggregation }, async (a) => {
        if (aggregation === 'workgroup') assert.equal(a.path, 'workgroup');
        const requests = mixedRequests(new Prng(5), 1003, K, 0.3);
        const pass = await a.allocate(requests);
        assert.equal(pass.outOfMemory, 0);
        assert.equal(pass.served, pass.requested);
        for (let lane = 0; lane < requests.length; lane++) {
          for (let j = 0; j < K; j++) {
            const got = pass.objects[lane * K + j] !== NO_OBJECT;
            assert.equal(got, j < laneCount(requests[lane] ?? 0), `lane ${lane} slot ${j}`);
          }
        }
        await a.validate();
      });
    });

    test(`${name}: exhaustion gives NO_OBJECT to exactly the lanes beyond capacity; freed objects are handed out again`, { skip }, async () => {
      await withAllocator({ design, aggregation }, async (a) => {
        const all = new Uint32Array(2048).fill(laneRequest(K));
        const first = await a.allocate(all);
        assert.equal(first.served, CAPACITY);
        assert.equal(first.outOfMemory, 2048 * K - CAPACITY);
        await a.validate();
        const second = await a.allocate(all);
        assert.equal(second.served, 0);
        assert.equal(second.outOfMemory, 2048 * K);
        const frees = freeRequests(new Prng(9), a.liveObjects(), 1000, K);
        const freed = new Set(frees.flat());
        assert.equal(freed.size, 1000);
        await a.free(frees);
        await a.validate();
        const third = await a.allocate(new Uint32Array(2048).fill(laneRequest(1)));
        assert.equal(third.served, 1000);
        assert.equal(third.reused, 1000);
        for (const address of served(third)) assert.ok(freed.has(address), `0x${address.toString(16)} was not freed`);
        await a.validate();
      });
    });

    test(`${name}: free/reuse cycles keep every object accounted for, and all of it allocatable again`, { skip }, async () => {
      await withAllocator({ design, aggregation }, async (a) => {
        for (let cycle = 0; cycle < 4; cycle++) {
          const pass = await a.allocate(mixedRequests(new Prng(100 + cycle), 1500, K, 0.2));
          await a.validate();
          assert.equal(pass.served + pass.outOfMemory, pass.requested);
          const live = a.liveObjects();
          await a.free(freeRequests(new Prng(200 + cycle), live, live.length >> 1, K));
          await a.validate();
        }
        const live = a.liveObjects();
        for (let first = 0; first < live.length; first += 2048 * K) {
          const chunk = live.slice(first, first + 2048 * K);
          await a.free(Array.from({ length: Math.ceil(chunk.length / K) }, (_, i) => chunk.slice(i * K, i * K + K)));
        }
        await a.validate();
        assert.equal(a.stats().live, 0);
        const refill = await a.allocate(new Uint32Array(CAPACITY / K).fill(laneRequest(K)));
        assert.equal(refill.served, CAPACITY);
        await a.validate();
      });
    });
  }
}

test('warp-batch issues exactly one atomic per group that ran with an allocating lane, and one per group with a freeing lane', { skip }, async () => {
  await withAllocator({ design: 'warp-batch' }, async (a) => {
    // The path this adapter has: subgroups, or workgroups where it has none.
    const size = a.path === 'subgroup' ? (a.subgroupSize ?? 0) : a.workgroupSize;
    assert.ok(size >= 1 && size === a.groupLanes);
    const full = await a.allocate(new Uint32Array(1024).fill(laneRequest(1)));
    const fullGroups = lanesPerGroup(full.groupKeys);
    assert.equal(full.atomics, fullGroups.size);
    assert.deepEqual([...new Set(fullGroups.values())], [size], 'every group that ran had its full size');
    await a.reset();
    const sparse = await a.allocate(activeLanesRequests(new Prng(3), 1024, size, Math.max(1, size >> 1)));
    const sparseGroups = lanesPerGroup(sparse.groupKeys);
    assert.equal(sparse.atomics, sparseGroups.size);
    assert.equal(sparseGroups.size, fullGroups.size, 'every group had an active lane');
    // Only the lanes of the first half free: the groups of the second half issue nothing.
    const frees = Array.from({ length: 1024 }, (_, lane) => (lane < 512 ? served({ objects: sparse.objects.subarray(lane * K, lane * K + K) }) : []));
    const freed = await a.free(frees);
    const freeing = lanesPerGroup(freed.groupKeys);
    assert.ok(freeing.size > 0 && freeing.size < sparseGroups.size, `${freeing.size} of ${sparseGroups.size} groups free`);
    assert.equal(freed.atomics, freeing.size);
    await a.validate();
  });
});

test('a workgroup size that is not a multiple of the subgroup size is refused; the subgroup size is measured wherever the device has subgroups, else assumed and said so', { skip }, async () => {
  const acc = required(accelerator);
  const size = (await acc.measureSubgroupSize(64)) ?? acc.adapterSubgroupSize;
  if (size !== null && size >= 2 && size + size / 2 <= 256) {
    const odd = size + size / 2;
    await assert.rejects(
      withAllocator({ design: 'per-lane', workgroupSize: odd }, async () => {}),
      (e: unknown) => e instanceof GpuConfigError && e.message.startsWith(`workgroupSize ${odd}: expected a multiple of the subgroup size, ${size} `),
    );
  }
  await withAllocator({ design: 'warp-batch', aggregation: 'workgroup' }, async (a) => {
    assert.equal(a.path, 'workgroup');
    assert.equal(a.subgroupSizeSource, acc.subgroups ? 'measured' : acc.adapterSubgroupSize === null ? null : 'assumed');
    assert.match(hardwareWarpsLabel(a).short, acc.subgroups ? /^\d+-lane runs, measured$/ : /^\d+-lane runs, assumed$/);
  });
  const plain = await Accelerator.open({ subgroups: false });
  try {
    const a = await WarpSlabAllocator.create(plain, { design: 'per-lane', arenaBytes: 4096 * 4, objectBytes: 16, objectsPerSlab: 256, maxObjectsPerLane: 1, maxLanes: 64 });
    try {
      assert.equal(a.path, 'workgroup');
      assert.equal(a.subgroupSize, plain.adapterSubgroupSize);
      assert.equal(a.subgroupSizeSource, plain.adapterSubgroupSize === null ? null : 'assumed');
      assert.match(hardwareWarpsLabel(a).full, /assumed: the (adapter's minimum subgroup size|workgroup)/);
    } finally {
      a.destroy();
    }
  } finally {
    plain.destroy();
  }
});

test('warp-batch on the workgroup path issues one atomic per workgroup', { skip }, async () => {
  await withAllocator({ design: 'warp-batch', aggregation: 'workgroup', workgroupSize: 64 }, async (a) => {
    const pass = await a.allocate(new Uint32Array(1000).fill(laneRequest(2)));
    assert.equal(pass.atomics, Math.ceil(1000 / 64));
  });
});

test('per-lane issues one atomic per allocating lane; slab-bitmap far fewer, and frees with one atomicAnd per object', { skip }, async () => {
  const requests = mixedRequests(new Prng(8), 1024, K, 0.25);
  const allocating = [...requests].filter((w) => laneCount(w) > 0).length;
  await withAllocator({ design: 'per-lane' }, async (a) => {
    const pass = await a.allocate(requests);
    assert.equal(pass.atomics, allocating);
  });
  await withAllocator({ design: 'slab-bitmap' }, async (a) => {
    const pass = await a.allocate(requests);
    assert.ok(pass.atomics < allocating / 2, `${pass.atomics} atomics for ${allocating} allocating lanes`);
    const live = a.liveObjects();
    const freed = await a.free(freeRequests(new Prng(1), live, 300, K));
    assert.equal(freed.atomics, 300);
  });
});

test('objects come only from the page pool, in any order it lists pages', { skip }, async () => {
  for (const design of WARP_DESIGNS) {
    await withAllocator({ design, poolPages: [9, 2, 13] }, async (a) => {
      const pass = await a.allocate(new Uint32Array(1000).fill(laneRequest(1)));
      assert.equal(pass.served, 3 * OBJECTS_PER_SLAB);
      const pages = new Set(served(pass).map((address) => Math.floor(address / (OBJECTS_PER_SLAB * 4))));
      assert.deepEqual([...pages].sort((x, y) => x - y), [2, 9, 13]);
      await a.validate();
    });
  }
});

test('misuse is refused before it reaches the device, and the arena still validates', { skip }, async () => {
  for (const design of WARP_DESIGNS) {
    await withAllocator({ design }, async (a) => {
      const pass = await a.allocate(new Uint32Array(64).fill(laneRequest(2)));
      const [x = 0, y = 0] = served(pass);
      await a.free([[x]]);
      await assert.rejects(a.free([[x]]), (e: unknown) => e instanceof DeviceFreeError && /already free \(double free\)/.test(e.message) && e.address === x);
      await assert.rejects(a.free([[y + 1]]), (e: unknown) => e instanceof DeviceFreeError && /not the first word of an object/.test(e.message));
      await assert.rejects(a.free([[y], [y]]), (e: unknown) => e instanceof DeviceFreeError && /twice in this free pass/.test(e.message));
      await assert.rejects(a.free([[a.layout.address(PAGES - 1, OBJECTS_PER_SLAB - 1)]]), (e: unknown) => e instanceof DeviceFreeError && /never allocated/.test(e.message));
      await assert.rejects(a.allocate(Uint32Array.of(laneRequest(K + 1))), GpuRequestError);
      await assert.rejects(a.allocate(new Uint32Array(2049)), GpuRequestError);
      await assert.rejects(a.free([[y, y, y, y, y]]), GpuRequestError);
      await a.validate();
      assert.equal(a.stats().live, 2 * 64 - 1);
    });
  }
  await assert.rejects(WarpSlabAllocator.create(required(accelerator), { design: 'per-lane', arenaBytes: 4096, objectBytes: 16, objectsPerSlab: 48, maxObjectsPerLane: 1, maxLanes: 1 }), GpuConfigError);
  await assert.rejects(
    WarpSlabAllocator.create(required(accelerator), { design: 'per-lane', arenaBytes: 2 ** 31, objectBytes: 16, objectsPerSlab: 256, maxObjectsPerLane: 1, maxLanes: 1 }),
    (e: unknown) => e instanceof GpuConfigError && /storage binding limit/.test(e.message),
  );
});

test('validate() and the pass checks catch a corrupted device arena', { skip }, async () => {
  const acc = required(accelerator);
  // A live object put back in the free ring: it would be handed out twice.
  await withAllocator({ design: 'warp-batch' }, async (a) => {
    const pass = await a.allocate(new Uint32Array(64).fill(laneRequest(1)));
    const [x = 0] = served(pass);
    const state = await acc.read(a.buffers.state, 32);
    acc.write(a.buffers.ring, Uint32Array.of(x), 4 * ((state[StateWord.Tail] ?? 0) & (a.layout.ringEntries - 1)));
    acc.write(a.buffers.state, Uint32Array.of((state[StateWord.Tail] ?? 0) + 1), 4 * StateWord.Tail);
    await assert.rejects(a.validate(), (e: unknown) => e instanceof DeviceArenaError && /live .* and free at once/.test(e.message) && e.address === x);
  });
  // Bitmaps: a live object's bit cleared (free and live), then a free object's bit set (lost), then a
  // double free the host could not see, which the device's atomicAnd catches.
  await withAllocator({ design: 'slab-bitmap' }, async (a) => {
    const pass = await a.allocate(new Uint32Array(64).fill(laneRequest(1)));
    const words = await acc.read(a.buffers.bitmaps, a.layout.pages * a.layout.bitmapWordsPerSlab * 4);
    const page = Math.floor((served(pass)[0] ?? 0) / a.layout.slabWords);
    const at = page * a.layout.bitmapWordsPerSlab;
    const word = words[at] ?? 0;
    acc.write(a.buffers.bitmaps, Uint32Array.of(word & ~1), 4 * at);
    await assert.rejects(a.validate(), (e: unknown) => e instanceof DeviceArenaError && /and free at once/.test(e.message));
    await assert.rejects(a.free([[a.layout.address(page, 0)]]), (e: unknown) => e instanceof DeviceArenaError && /device refused 1 frees/.test(e.message));
  });
  await withAllocator({ design: 'slab-bitmap' }, async (a) => {
    await a.allocate(new Uint32Array(8).fill(laneRequest(1)));
    const words = await acc.read(a.buffers.bitmaps, 4);
    acc.write(a.buffers.bitmaps, Uint32Array.of((words[0] ?? 0) | (1 << 30)), 0);
    await assert.rejects(a.validate(), (e: unknown) => e instanceof DeviceArenaError && /lost: neither live nor free/.test(e.message));
  });
});

test('a pass the host check refuses leaves the shadow as it was: nothing live, and nothing counted as handed out before', { skip }, async () => {
  const acc = required(accelerator);
  await withAllocator({ design: 'warp-batch' }, async (a) => {
    // Lane 63's result is rewritten, on its way back, to lane 0's object: one object for two lanes.
    const read = acc.read.bind(acc);
    acc.read = async (buffer, sizeBytes, offsetBytes) => {
      const words = await read(buffer, sizeBytes, offsetBytes);
      if (buffer === a.buffers.results) words[63 * a.layout.resultStride] = words[0] ?? NO_OBJECT;
      return words;
    };
    let x = NO_OBJECT;
    try {
      await assert.rejects(a.allocate(new Uint32Array(64).fill(laneRequest(1))), (e: unknown) => {
        x = e instanceof DeviceArenaError ? e.address : NO_OBJECT;
        return e instanceof DeviceArenaError && /handed to lane 63 while still live \(lane 0 holds it\)/.test(e.message);
      });
    } finally {
      Reflect.deleteProperty(acc, 'read');
    }
    assert.equal(a.stats().live, 0);
    assert.deepEqual(a.liveObjects(), []);
    await assert.rejects(a.free([[x]]), (e: unknown) => e instanceof DeviceFreeError && /never allocated/.test(e.message) && e.address === x);
  });
});

test("the lane limit: one dispatch of the device's most workgroups is accepted and reaches its last lane; one lane more is refused; the benchmark always fits", { skip }, async () => {
  const acc = required(accelerator);
  const most = maxDispatchLanes(acc);
  assert.equal(most, 64 * acc.maxWorkgroupsPerDimension);
  await assert.rejects(
    withAllocator({ design: 'per-lane', maxObjectsPerLane: 1, maxLanes: most + 1 }, async () => {}),
    (e: unknown) => e instanceof GpuConfigError && e.message.includes(`maxLanes ${most + 1}: expected an integer in [1, ${most}]`),
  );
  await withAllocator({ design: 'warp-batch', maxObjectsPerLane: 1, maxLanes: most, checkPasses: false }, async (a) => {
    const requests = new Uint32Array(most).fill(laneRequest(0, false));
    requests[most - 1] = laneRequest(1);
    const pass = await a.allocate(requests);
    assert.equal(pass.served, 1);
    assert.notEqual(pass.objects[most - 1], NO_OBJECT, 'the last lane of the last workgroup ran');
    await a.validate();
  });
  // The benchmark's lanes, on this adapter and on GPUs with WebGPU's default limit or more.
  for (const device of [acc, ...[1, 1000, 65535, 65536, 2 ** 20].map((n) => ({ isCpuAdapter: false, maxWorkgroupsPerDimension: n }))]) {
    for (const smoke of [false, true]) {
      const lanes = benchLanes(device, smoke);
      assert.ok(lanes >= 1 && lanes <= maxDispatchLanes(device), `${lanes} lanes with ${device.maxWorkgroupsPerDimension} workgroups per dimension`);
    }
  }
  assert.equal(benchLanes({ isCpuAdapter: false, maxWorkgroupsPerDimension: 65535 }, false), 4_194_240);
  assert.equal(benchLanes({ isCpuAdapter: false, maxWorkgroupsPerDimension: 65536 }, false), 2 ** 22);
  assert.equal(benchLanes({ isCpuAdapter: true, maxWorkgroupsPerDimension: 65535 }, false), 2 ** 20);
});

/**
 * Runs `body` with every free request `a` writes rewritten by `rewrite` on its way to the device:
 * frees the host checked and accepted, changed behind its back, to reach the device's own check.
 */
async function withTamperedFrees(a: WarpSlabAllocator, rewrite: (words: Uint32Array) => void, body: () => Promise<void>): Promise<void> {
  const acc = required(accelerator);
  const write = acc.write.bind(acc);
  acc.write = (buffer, data, offsetBytes) => {
    const words = buffer === a.buffers.requests ? data.slice() : data;
    if (words !== data) rewrite(words);
    write(buffer, words, offsetBytes);
  };
  try {
    await body();
  } finally {
    Reflect.deleteProperty(acc, 'write');
  }
}

test("the device's own free check: every design refuses a non-object without using a ring position; only slab-bitmap refuses an already-free object", { skip }, async () => {
  const acc = required(accelerator);
  for (const design of WARP_DESIGNS) {
    const ring = DESIGNS[design].freeStore === 'ring';
    // Lane 0 frees y; on the way, its request becomes [y + 1 (inside an object), y].
    await withAllocator({ design }, async (a) => {
      const [, y = 0] = served(await a.allocate(new Uint32Array(64).fill(laneRequest(1))));
      const before = await acc.read(a.buffers.state, 32);
      await withTamperedFrees(
        a,
        (words) => words.set([2, y + 1, y], 0),
        () => assert.rejects(a.free([[y]]), (e: unknown) => e instanceof DeviceArenaError && /device refused 1 frees/.test(e.message) && e.address === y + 1),
      );
      const after = await acc.read(a.buffers.state, 32);
      if (ring) {
        const tail = before[StateWord.Tail] ?? 0;
        assert.equal((after[StateWord.Tail] ?? 0) - tail, 1, `${design}: one ring position, for y alone`);
        const [slot] = await acc.read(a.buffers.ring, 4, 4 * (tail & (a.layout.ringEntries - 1)));
        assert.equal(slot, y, `${design}: y, not NO_OBJECT, at the position the refused free would have taken`);
      }
    });
    // Lane 0 frees y; on the way, its request becomes x, which was freed before.
    await withAllocator({ design }, async (a) => {
      const [x = 0, y = 0] = served(await a.allocate(new Uint32Array(64).fill(laneRequest(1))));
      await a.free([[x]]);
      const freeAgain = withTamperedFrees(a, (words) => words.set([1, x], 0), () => a.free([[y]]).then(() => undefined));
      if (ring) {
        // The ring cannot tell: x is now in it twice, which the pass check (validate()'s) finds.
        await assert.rejects(freeAgain, (e: unknown) => e instanceof DeviceArenaError && /free twice over \(ring\)/.test(e.message) && e.address === x);
        await assert.rejects(a.validate(), (e: unknown) => e instanceof DeviceArenaError && /free twice over \(ring\)/.test(e.message) && e.address === x);
      } else {
        await assert.rejects(freeAgain, (e: unknown) => e instanceof DeviceArenaError && /device refused 1 frees/.test(e.message) && e.address === x);
      }
    });
  }
});
