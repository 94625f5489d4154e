/**
 * Seeded fuzzing of the flash stores against a shadow model, checked after every operation.
 *
 * Page store: the shadow holds each logical page's last written bytes (or nothing after a TRIM).
 * Every read must return exactly them; writes carry the lpn and a version so a page returning another
 * page's or an older write's bytes is caught. Misuse (pages out of range, oversized data) is mixed
 * in: each raises its typed error and changes nothing. Object store: the same with objects of random
 * sizes, deletes and flushes. validate() runs every `validateEvery` operations and at the end; then
 * the chip is mounted again (a clean shutdown) and every page or object must read back the same.
 * Each run picks a victim policy, GC frontier, host streams, free-block order and wear levelling.
 */
import assert from 'node:assert/strict';
import { NandDevice } from '../../src/machine/nand.ts';
import { LogicalAddressError, ObjectIdError, ObjectSizeError } from '../../src/flash/errors.ts';
import { PageFtl } from '../../src/flash/ftl.ts';
import type { LogStoreConfig } from '../../src/flash/log-store.ts';
import { ObjectStore } from '../../src/flash/object-store.ts';
import { VICTIM_POLICIES } from '../../src/flash/victim.ts';
import { ArgumentError } from '../../src/util/errors.ts';
import { Prng } from '../../src/util/prng.ts';

export interface FlashFuzzOptions {
  seed: number;
  ops: number;
  validateEvery?: number;
  /** Fix the configuration instead of drawing it from the seed. */
  config?: LogStoreConfig;
}

export interface FlashFuzzReport {
  ops: number;
  writes: number;
  reads: number;
  removals: number;
  misuses: number;
  config: LogStoreConfig;
  writeAmplification: number;
}

function drawConfig(prng: Prng): LogStoreConfig {
  const gcFrontier = prng.chance(0.5) ? 'shared' : 'separate';
  return {
    policy: prng.pick(VICTIM_POLICIES),
    backgroundPolicy: prng.pick(VICTIM_POLICIES),
    gcFrontier,
    hostStreams: 1 + prng.int(3),
    freeBlockOrder: prng.chance(0.5) ? 'fifo' : 'least-worn',
    staticWearLevelling: prng.chance(0.5) ? 3 + prng.int(10) : 0,
    highWatermark: 3 + prng.int(3),
    seed: prng.nextU32(),
  };
}

function expectError(fn: () => void, type: new (...args: never[]) => Error, check: () => void): void {
  assert.throws(fn, type);
  check();
}

export function fuzzPageFtl(options: FlashFuzzOptions): FlashFuzzReport {
  const prng = new Prng(options.seed);
  const config = options.config ?? drawConfig(prng);
  const L = 160;
  const device = NandDevice.create({ geometry: { blocks: 32, pagesPerBlock: 8, pageBytes: 32, spareBytes: 16 } });
  const ftl = PageFtl.format(device, { ...config, logicalPages: L });
  const shadow: (Uint8Array | null)[] = new Array<Uint8Array | null>(L).fill(null);
  const out = new Uint8Array(32);
  const report: FlashFuzzReport = { ops: 0, writes: 0, reads: 0, removals: 0, misuses: 0, config, writeAmplification: 0 };
  const validateEvery = options.validateEvery ?? 100;
  const unchanged = (programs: number) => () => assert.equal(device.programs + device.copybacks, programs, 'a refused call programmed the chip');
  const readBack = (store: PageFtl, lpn: number): void => {
    const expected = shadow[lpn] ?? null;
    const mapped = store.read(lpn, out);
    assert.equal(mapped, expected !== null, `lpn ${lpn}: mapped ${mapped}, shadow ${expected === null ? 'empty' : 'written'}`);
    if (expected !== null) assert.deepEqual(out.subarray(0, expected.length), expected, `lpn ${lpn} returned other bytes`);
  };
  for (let op = 0; op < options.ops; op++) {
    const lpn = prng.int(L);
    const r = prng.nextFloat();
    if (r < 0.6) {
      const data = new Uint8Array(8 + prng.int(25));
      const view = new DataView(data.buffer);
      view.setUint32(0, lpn, true);
      view.setUint32(4, op, true);
      for (let i = 8; i < data.length; i++) data[i] = prng.int(256);
      ftl.write(lpn, data, prng.int(4));
      shadow[lpn] = data;
      report.writes++;
    } else if (r < 0.7) {
      const count = 1 + prng.int(Math.min(4, L - lpn));
      ftl.trim(lpn, count);
      for (let l = lpn; l < lpn + count; l++) shadow[l] = null;
      report.removals++;
    } else if (r < 0.72) {
      ftl.idle(1 + prng.int(3));
    } else if (r < 0.74) {
      const programs = device.programs + device.copybacks;
      const kind = prng.int(3);
      if (kind === 0) expectError(() => ftl.write(L + prng.int(10)), LogicalAddressError, unchanged(programs));
      else if (kind === 1) expectError(() => ftl.read(-1 - prng.int(5)), LogicalAddressError, unchanged(programs));
      else expectError(() => ftl.write(lpn, new Uint8Array(33)), ArgumentError, unchanged(programs));
      report.misuses++;
    } else {
      readBack(ftl, lpn);
      report.reads++;
    }
    if ((op + 1) % validateEvery === 0) ftl.validate();
    report.ops++;
  }
  ftl.validate();
  report.writeAmplification = ftl.stats().writeAmplification;
  const again = PageFtl.mount(NandDevice.over(device.buffer), { ...config, logicalPages: L });
  again.validate();
  for (let lpn = 0; lpn < L; lpn++) readBack(again, lpn);
  return report;
}

export function fuzzObjectStore(options: FlashFuzzOptions): FlashFuzzReport {
  const prng = new Prng(options.seed);
  const config = options.config ?? drawConfig(prng);
  const objects = 64;
  const device = NandDevice.create({ geometry: { blocks: 32, pagesPerBlock: 8, pageBytes: 256, spareBytes: 16 } });
  const store = ObjectStore.format(device, { ...config, maxObjects: objects });
  const shadow: (Uint8Array | null)[] = new Array<Uint8Array | null>(objects).fill(null);
  const report: FlashFuzzReport = { ops: 0, writes: 0, reads: 0, removals: 0, misuses: 0, config, writeAmplification: 0 };
  const validateEvery = options.validateEvery ?? 100;
  const check = (s: ObjectStore, id: number): void => {
    const expected = shadow[id] ?? null;
    const got = s.get(id);
    assert.equal(got === null, expected === null, `object ${id}: ${got === null ? 'missing' : 'present'}, shadow ${expected === null ? 'deleted' : 'present'}`);
    if (expected !== null) assert.deepEqual(got, expected, `object ${id} returned other bytes`);
  };
  for (let op = 0; op < options.ops; op++) {
    const id = prng.int(objects);
    const r = prng.nextFloat();
    if (r < 0.6) {
      const bytes = new Uint8Array(prng.int(store.maxObjectBytes + 1));
      for (let i = 0; i < bytes.length; i++) bytes[i] = prng.int(256);
      store.put(id, bytes, prng.int(4));
      shadow[id] = bytes;
      report.writes++;
    } else if (r < 0.7) {
      if (shadow[id] !== null) {
        store.delete(id);
        shadow[id] = null;
        report.removals++;
      } else {
        const version = store.durableVersion;
        expectError(() => store.delete(id), ObjectIdError, () => assert.equal(store.durableVersion, version));
        report.misuses++;
      }
    } else if (r < 0.74) {
      store.flush();
    } else if (r < 0.76) {
      store.idle(1 + prng.int(3));
    } else if (r < 0.78) {
      const bytes = device.programs;
      if (prng.chance(0.5)) expectError(() => store.put(objects + prng.int(5), new Uint8Array(4)), ObjectIdError, () => assert.equal(device.programs, bytes));
      else expectError(() => store.put(id, new Uint8Array(store.maxObjectBytes + 1 + prng.int(8))), ObjectSizeError, () => assert.equal(device.programs, bytes));
      report.misuses++;
    } else {
      check(store, id);
      report.reads++;
    }
    if ((op + 1) % validateEvery === 0) store.validate();
    report.ops++;
  }
  store.validate();
  report.writeAmplification = store.stats().writeAmplification;
  store.flush();
  const again = ObjectStore.mount(NandDevice.over(device.buffer), { ...config, maxObjects: objects });
  again.validate();
  for (let id = 0; id < objects; id++) check(again, id);
  return report;
}
