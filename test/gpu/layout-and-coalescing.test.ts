// The host-side pieces that need no adapter: the arena layout, the sector model, the request
// streams and the stamp hash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeviceArenaLayout, LANE_INACTIVE } from '../../src/gpu/arena-layout.ts';
import { GpuConfigError } from '../../src/gpu/errors.ts';
import { mix32, stampOf } from '../../src/gpu/stamp.ts';
import { CoalescingTally, idealSectors, sectorsTouched } from '../../src/machine/coalescing.ts';
import { activeLanesRequests, freeRequests, mixedRequests } from '../../src/lab/workloads/warp-requests.ts';
import { Prng } from '../../src/util/prng.ts';

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
