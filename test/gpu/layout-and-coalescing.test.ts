// The host-side pieces that need no adapter: the arena layout, the sector model, the request
// streams and the stamp hash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeviceArenaLayout, LANE_INACTIVE, NO_OBJECT } from '../../src/gpu/arena-layout.ts';
import { GpuConfigError, SubgroupMismatchError } from '../../src/gpu/errors.ts';
import { assertActiveLanesPerSubgroup, lanesPerGroup, lanesWarps, storeCoalescing } from '../../src/gpu/store-coalescing.ts';
import { NO_GROUP } from '../../src/gpu/warp-allocator.ts';
import { stampOf } from '../../src/gpu/stamp.ts';
import { CoalescingTally, idealSectors, sectorsTouched } from '../../src/machine/coalescing.ts';
import { activeLanesRequests, freeRequests, mixedRequests } from '../../src/lab/workloads/warp-requests.ts';
import { Prng, mix32 } from '../../src/util/prng.ts';

test('DeviceArenaLayout: addresses, object indices, ring size, and refused shapes', () => {
  const layout = new DeviceArenaLayout({ arenaBytes: 8 * 4096, objectBytes: 16, objectsPerSlab: 256, maxObjectsPerLane: 4, poolPages: [3, 1, 7] });
  assert.equal(layout.pages, 8);
  assert.equal(layout.slabWords, 1024);
  assert.equal(layout.bitmapWordsPerSlab, 8);
  assert.equal(layout.capacityObjects, 768);
  assert.equal(layout.ringEntries, 1024);
  assert.equal(layout.address(3, 5), 3 * 1024 + 20);
  assert.equal(layout.objectIndex(3 * 1024 + 20), 3 * 256 + 5);
  assert.equal(layout.addressOfIndex(3 * 256 + 5), 3 * 1024 + 20);
  assert.equal(layout.objectIndex(3 * 1024 + 21), -1, 'inside an object');
  assert.equal(layout.objectIndex(8 * 1024), -1, 'past the arena');
  assert.deepEqual([...layout.inPool], [0, 1, 0, 1, 0, 0, 0, 1]);
  const base = { arenaBytes: 4096, objectBytes: 16, objectsPerSlab: 256, maxObjectsPerLane: 1 };
  assert.throws(() => new DeviceArenaLayout({ ...base, objectBytes: 6 }), GpuConfigError);
  assert.throws(() => new DeviceArenaLayout({ ...base, objectsPerSlab: 40 }), GpuConfigError);
  assert.throws(() => new DeviceArenaLayout({ ...base, arenaBytes: 6000 }), GpuConfigError);
  assert.throws(() => new DeviceArenaLayout({ ...base, maxObjectsPerLane: 0 }), GpuConfigError);
  assert.throws(() => new DeviceArenaLayout({ ...base, poolPages: [0, 0] }), /listed twice/);
  assert.throws(() => new DeviceArenaLayout({ ...base, poolPages: [1] }), /expected an integer in \[0, 1\)/);
});

test('sectors: neighbouring lanes share 32-byte sectors, scattered lanes do not', () => {
  assert.equal(sectorsTouched([0, 16, 32, 48], 16), 2);
  assert.equal(sectorsTouched([8, 24], 16), 2, 'misaligned pair straddles');
  assert.equal(sectorsTouched([0, 4096, 8192, 12288], 16), 4);
  assert.equal(sectorsTouched([0, 0], 16), 1);
  assert.equal(sectorsTouched([28], 4), 1);
  assert.equal(sectorsTouched([30], 4), 2, 'bytes 30..33 cross a sector boundary');
  assert.equal(idealSectors(32, 16), 16);
  const tally = new CoalescingTally(16);
  tally.addStore([0, 16]);
  tally.addStore([]);
  tally.addStore([0, 4096]);
  assert.equal(tally.stores, 2);
  assert.equal(tally.sectorsPerStore, 1.5);
  assert.equal(tally.idealPerStore, 1);
});

test('sectors of strided stores: one word of each lane\'s element, against the same store with the elements packed', () => {
  assert.equal(idealSectors(8, 4, 16), 4, 'word w of eight packed 16-byte objects spans 128 bytes');
  assert.equal(idealSectors(8, 4, 16, 12), 4);
  assert.equal(idealSectors(4, 4, 64), 4, 'objects over a sector apart: a sector per lane');
  assert.equal(idealSectors(8, 4, 4), 1, 'packed words: one sector');
  const tally = new CoalescingTally(4, 16);
  tally.addStore([0, 16, 32, 48, 64, 80, 96, 112], 0);
  tally.addStore([0, 4096], 4);
  assert.equal(tally.stores, 2);
  assert.equal(tally.sectors, 4 + 2);
  assert.equal(tally.ideal, 4 + 1);
});

test('stamp stores: one 4-byte store per word of each object, grouped by warp', () => {
  // Eight lanes, one 16-byte object each (addresses are word indices): packed, then 64 words apart.
  const packed = { lanes: 8, objects: Uint32Array.from({ length: 8 }, (_, lane) => lane * 4) };
  const t = storeCoalescing(packed, 16, 1, lanesWarps(8));
  assert.equal(t.stores, 4, 'four word stores, not one 16-byte store');
  assert.equal(t.sectors, 4 * 4);
  assert.equal(t.ideal, 4 * 4);
  const scattered = { lanes: 8, objects: Uint32Array.from({ length: 8 }, (_, lane) => lane * 64) };
  assert.equal(storeCoalescing(scattered, 16, 1, lanesWarps(8)).sectors, 4 * 8);
  // Two warps of four; lane 5 got nothing (no store); K = 2 with only lane 0 getting a second object.
  const objects = new Uint32Array(16).fill(NO_OBJECT);
  for (const lane of [0, 1, 2, 3, 4, 6, 7]) objects[lane * 2] = lane * 4;
  objects[1] = 1024;
  const mixed = storeCoalescing({ lanes: 8, objects }, 16, 2, lanesWarps(4));
  assert.equal(mixed.stores, 4 * 3, 'per word: slot 0 of each warp, slot 1 of the first');
  assert.equal(mixed.lanes, 4 * (4 + 3 + 1));
});

test('subgroups that ran: active lanes per recorded group, and a grouping that does not match the measured size is refused', () => {
  // 16 lanes in two 8-lane subgroups (keys: the first active lane), 4 active in each.
  const keys = new Uint32Array(16).fill(NO_GROUP);
  for (const lane of [1, 2, 5, 7]) keys[lane] = 1;
  for (const lane of [8, 10, 11, 15]) keys[lane] = 8;
  assert.deepEqual([...lanesPerGroup(keys)], [[1, 4], [8, 4]]);
  assert.doesNotThrow(() => assertActiveLanesPerSubgroup({ lanes: 16, groupKeys: keys }, 8, 4));
  assert.throws(() => assertActiveLanesPerSubgroup({ lanes: 16, groupKeys: keys }, 8, 3), SubgroupMismatchError);
  // Workgroups of 12 on 8-lane hardware: subgroups of 8 and 4 lanes, not aligned to runs of 8.
  const odd = new Uint32Array(24).fill(NO_GROUP);
  for (const [key, lanes] of [[0, [0, 3, 5, 6]], [8, [8, 9, 11]], [12, [12, 13, 14]], [20, [20, 22]]] as const) for (const lane of lanes) odd[lane] = key;
  assert.throws(
    () => assertActiveLanesPerSubgroup({ lanes: 24, groupKeys: odd }, 8, 4),
    (e: unknown) => e instanceof SubgroupMismatchError && /ran in 4 subgroups \(1 with 2, 2 with 3, 1 with 4 active lanes\): expected 3 subgroups of 8 lanes with 4 active each/.test(e.message),
  );
});

test('request streams: seeded, with exact active lanes per warp, and frees counted independently of addresses', () => {
  assert.deepEqual(mixedRequests(new Prng(4), 100, 3, 0.3), mixedRequests(new Prng(4), 100, 3, 0.3));
  const mixed = mixedRequests(new Prng(4), 10_000, 3, 0.3);
  const inactive = [...mixed].filter((w) => (w & LANE_INACTIVE) !== 0).length;
  assert.ok(inactive > 2700 && inactive < 3300, `${inactive} inactive`);
  assert.ok([...mixed].every((w) => (w & LANE_INACTIVE) !== 0 || w <= 3));
  const sweep = activeLanesRequests(new Prng(2), 70, 8, 3);
  for (let first = 0; first < 70; first += 8) {
    const active = [...sweep.subarray(first, first + 8)].filter((w) => w === 1).length;
    assert.equal(active, Math.min(3, 70 - first));
  }
  const live = Array.from({ length: 500 }, (_, i) => i * 4);
  const frees = freeRequests(new Prng(6), live, 123, 4);
  const flat = frees.flat();
  assert.equal(flat.length, 123);
  assert.equal(new Set(flat).size, 123);
  assert.ok(frees.every((lane) => lane.length <= 4));
  assert.ok(frees.some((lane) => lane.length === 0), 'some lanes free nothing');
  assert.equal(freeRequests(new Prng(6), live.map((a) => a + 1), 123, 4).flat().length, 123);
});

test('stamps: murmur3 fmix32, never zero', () => {
  assert.equal(mix32(0), 0);
  assert.equal(mix32(1), 0x514e28b7);
  assert.notEqual(stampOf(0, 0, 0, 4), 0);
  assert.notEqual(stampOf(7, 1, 0, 4), stampOf(7, 0, 1, 4));
});
