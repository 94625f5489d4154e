import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlashConfigError, FlashFullError, ObjectIdError, ObjectSizeError } from '../../src/flash/errors.ts';
import { ObjectStore } from '../../src/flash/object-store.ts';
import { VICTIM_POLICIES } from '../../src/flash/victim.ts';
import { NandDevice } from '../../src/machine/nand.ts';
import { Prng } from '../../src/util/prng.ts';
import { fuzzObjectStore } from '../fuzz/flash-fuzz.ts';

const GEOMETRY = { blocks: 24, pagesPerBlock: 8, pageBytes: 256, spareBytes: 16 };
const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));

test('put, get, overwrite and delete; writes become durable when their page is programmed', () => {
  const device = NandDevice.create({ geometry: GEOMETRY });
  const store = ObjectStore.format(device, { maxObjects: 16 });
  const v1 = store.put(3, text('first'));
  assert.equal(str(store.get(3)), 'first', 'a buffered object reads back');
  assert.equal(device.programs, 0, 'small puts wait in the page buffer');
  assert.equal(store.durableVersion, v1 - 1);
  const v2 = store.put(3, text('second'));
  assert.ok(v2 > v1);
  assert.equal(store.flush(), v2);
  assert.equal(device.programs, 1);
  assert.equal(str(store.get(3)), 'second');
  store.delete(3);
  assert.equal(store.get(3), null);
  assert.equal(store.has(3), false);
  store.put(4, new Uint8Array(0));
  assert.deepEqual(store.get(4), new Uint8Array(0), 'empty objects exist');
  store.validate();
  const stats = store.stats();
  assert.equal(stats.liveObjects, 1);
  assert.equal(stats.puts, 3);
  assert.equal(stats.deletes, 1);
});

test('misuse: bad ids, oversized objects, deleting what does not exist, chips that do not fit', () => {
  const device = NandDevice.create({ geometry: GEOMETRY });
  const store = ObjectStore.format(device, { maxObjects: 16 });
  store.put(1, text('x'));
  const durable = store.durableVersion;
  assert.throws(() => store.put(16, text('y')), (e: unknown) => e instanceof ObjectIdError && e.id === 16);
  assert.throws(() => store.put(-1, text('y')), ObjectIdError);
  assert.throws(() => store.get(1.5), ObjectIdError);
  assert.throws(() => store.put(2, new Uint8Array(store.maxObjectBytes + 1)), ObjectSizeError);
  assert.throws(() => store.delete(2), ObjectIdError);
  assert.equal(store.durableVersion, durable);
  store.validate();
  assert.throws(() => ObjectStore.format(NandDevice.create({ geometry: GEOMETRY, storePayload: false }), { maxObjects: 4 }), FlashConfigError);
  assert.throws(() => ObjectStore.format(NandDevice.create({ geometry: { ...GEOMETRY, pageBytes: 40 } }), { maxObjects: 4 }), FlashConfigError);
  assert.throws(() => ObjectStore.format(NandDevice.create({ geometry: GEOMETRY }), { maxObjects: 4, lowWatermark: 1 }), /lowWatermark 1/);
});

test('garbage collection copies live objects and reclaims the rest: every policy, fuzzed against a shadow', () => {
  for (const policy of VICTIM_POLICIES) {
    for (const gcFrontier of ['shared', 'separate'] as const) {
      const report = fuzzObjectStore({ seed: 23, ops: 1200, validateEvery: 1, config: { policy, gcFrontier, hostStreams: 2 } });
      assert.ok(report.writeAmplification > 1, `${policy}/${gcFrontier}: ${JSON.stringify(report)}`);
    }
  }
  for (let seed = 1; seed <= 10; seed++) fuzzObjectStore({ seed, ops: 3000, validateEvery: 10 });
});

test('a steady churn of objects runs indefinitely on a chip a few times larger than the live data', () => {
  const device = NandDevice.create({ geometry: GEOMETRY });
  const store = ObjectStore.format(device, { maxObjects: 160, policy: 'greedy' });
  const prng = new Prng(9);
  for (let id = 0; id < 160; id++) store.put(id, new Uint8Array(60));
  for (let i = 0; i < 20000; i++) store.put(prng.int(160), new Uint8Array(40 + prng.int(50)).fill(i & 0xff));
  store.flush();
  store.validate();
  const stats = store.stats();
  assert.equal(stats.liveObjects, 160);
  assert.ok(stats.gc.victims > 0 && stats.gcRecords > 0);
  assert.ok(stats.writeAmplification > 1 && stats.writeAmplification < 3, `WA ${stats.writeAmplification}`);
  const again = ObjectStore.mount(NandDevice.over(device.buffer), { maxObjects: 160, policy: 'greedy' });
  for (let id = 0; id < 160; id++) assert.deepEqual(again.get(id), store.get(id));
});

test('FlashFullError comes before the put or delete: the call that throws stores nothing, and the full chip still mounts', () => {
  const device = NandDevice.create({ geometry: { ...GEOMETRY, blocks: 16 }, enduranceCycles: 12 });
  const config = { maxObjects: 40, policy: 'greedy' } as const;
  const store = ObjectStore.format(device, config);
  const shadow = new Map<number, string>();
  let refused = -1;
  for (let i = 0; refused < 0; i++) {
    const id = (i * 17) % 40;
    const value = `v${i}-${'x'.repeat(i % 50)}`;
    try {
      if (i % 9 === 8 && shadow.has(id)) {
        store.delete(id);
        shadow.delete(id);
      } else {
        store.put(id, text(value));
        shadow.set(id, value);
      }
    } catch (error) {
      if (!(error instanceof FlashFullError)) throw error;
      refused = id;
    }
  }
  assert.ok(store.gcStats().badBlocks > 0, 'blocks wore out until the objects no longer fit');
  store.validate();
  for (let id = 0; id < 40; id++) assert.equal(str(store.get(id)), shadow.get(id) ?? null, `object ${id}${id === refused ? ' (the refused call)' : ''}`);
  store.flush();
  const mounted = ObjectStore.mount(NandDevice.over(device.buffer), config);
  mounted.validate();
  for (let id = 0; id < 40; id++) assert.equal(str(mounted.get(id)), shadow.get(id) ?? null, `after mount, object ${id}`);
});

test('idle time that cleans nothing programs nothing: the host buffers are padded only for a victim', () => {
  const device = NandDevice.create({ geometry: GEOMETRY });
  const store = ObjectStore.format(device, { maxObjects: 16, highWatermark: 30 });
  const v = store.put(1, text('buffered'));
  assert.equal(store.idle(), 0, 'no closed block to clean');
  assert.equal(device.programs, 0, 'the buffered page stays in RAM');
  assert.equal(store.stats().paddingBytes, 0);
  assert.equal(store.durableVersion, v - 1);
  for (let i = 0; store.gcStats().closedBlocks < 2; i++) store.put(i % 16, new Uint8Array(100));
  const w = store.put(2, text('buffered too'));
  assert.ok(store.durableVersion < w);
  assert.equal(store.idle(1), 1);
  assert.ok(store.durableVersion >= w, 'cleaning a victim programs the host buffers first (its erase must not take the last durable copy)');
  store.validate();
});
