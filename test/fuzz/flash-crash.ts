/**
 * Power-cut sweep for the flash stores. Each trial formats a small chip (in memory or as a file
 * image), runs a random mix of writes and TRIMs (page store) or puts, deletes and flushes (object
 * store) against a shadow of what was acknowledged, and cuts the power at a random program, copy-back
 * or erase (NandDevice.armPowerCut): mid-program, mid-erase, mid-GC all happen. Then it mounts the
 * image again, as after a reboot, and checks:
 *   every acknowledged write reads back, with its latest acknowledged version, and nothing older:
 *   a page or object reads as its acknowledged version, or as the one write in flight at the cut;
 *   the store and the chip validate().
 * Each image takes `cutsPerImage` cuts in a row (mount, keep going, cut again), so recovery also runs
 * on images that earlier recoveries wrote.
 *
 *   CI: test/flash/crash.test.ts (≥ 200 cuts);  the long sweep: npm run flash:crash-sweep (≥ 1000)
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NandDevice, PowerLossError } from '../../src/machine/nand.ts';
import { NandImageFile } from '../../src/machine/nand-file.ts';
import { PageFtl } from '../../src/flash/ftl.ts';
import type { PageFtlConfig } from '../../src/flash/ftl.ts';
import { ObjectStore } from '../../src/flash/object-store.ts';
import type { ObjectStoreConfig } from '../../src/flash/object-store.ts';
import { VICTIM_POLICIES } from '../../src/flash/victim.ts';
import { Prng } from '../../src/util/prng.ts';

export interface CrashSweepOptions {
  seed: number;
  /** Power cuts in all. */
  cuts: number;
  store: 'page' | 'object';
  image: 'memory' | 'file';
  cutsPerImage?: number;
}

export interface CrashSweepReport {
  store: string;
  image: string;
  cuts: number;
  images: number;
  /** Cuts by the operation they interrupted. */
  interrupted: Record<string, number>;
  /** Cuts that fell inside garbage collection. */
  duringGc: number;
  acknowledgedChecked: number;
  inFlightSurvived: number;
  lost: number;
  stale: number;
}

/** Small chips, so that a few hundred operations reach GC, wear and every kind of cut. */
const GEOMETRY = {
  page: { blocks: 24, pagesPerBlock: 8, pageBytes: 64, spareBytes: 16 },
  object: { blocks: 24, pagesPerBlock: 8, pageBytes: 256, spareBytes: 16 },
};

interface Chip {
  device: NandDevice;
  remount(): NandDevice;
  dispose(): void;
}

function makeChip(store: 'page' | 'object', image: 'memory' | 'file', dir: string, index: number): Chip {
  const geometry = GEOMETRY[store];
  if (image === 'memory') {
    let device = NandDevice.create({ geometry });
    return {
      get device() {
        return device;
      },
      remount() {
        device = NandDevice.over(device.buffer);
        return device;
      },
      dispose() {},
    };
  }
  const path = join(dir, `chip-${index}.nand`);
  let device = NandImageFile.create(path, { geometry });
  return {
    get device() {
      return device;
    },
    remount() {
      device.close();
      device = NandImageFile.open(path);
      return device;
    },
    dispose() {
      device.close();
    },
  };
}

function randomLogConfig(prng: Prng): { policy: (typeof VICTIM_POLICIES)[number]; gcFrontier: 'shared' | 'separate'; hostStreams: number; lowWatermark?: number; staticWearLevelling: number } {
  const gcFrontier = prng.chance(0.5) ? 'shared' : 'separate';
  const hostStreams = prng.chance(0.7) ? 1 : 2;
  return {
    policy: prng.pick(VICTIM_POLICIES),
    gcFrontier,
    hostStreams,
    staticWearLevelling: prng.chance(0.3) ? 4 : 0,
  };
}

export function crashSweep(options: CrashSweepOptions): CrashSweepReport {
  const prng = new Prng(options.seed);
  const perImage = options.cutsPerImage ?? 3;
  const report: CrashSweepReport = {
    store: options.store,
    image: options.image,
    cuts: 0,
    images: 0,
    interrupted: {},
    duringGc: 0,
    acknowledgedChecked: 0,
    inFlightSurvived: 0,
    lost: 0,
    stale: 0,
  };
  const dir = options.image === 'file' ? mkdtempSync(join(tmpdir(), 'kmem-crash-')) : '';
  try {
    while (report.cuts < options.cuts) {
      const chip = makeChip(options.store, options.image, dir, report.images++);
      try {
        const trial = options.store === 'page' ? pageTrial : objectTrial;
        trial(chip, prng, Math.min(perImage, options.cuts - report.cuts), report);
      } finally {
        chip.dispose();
      }
    }
  } finally {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  }
  return report;
}

/**
 * Runs `step` (one operation of the workload) until the armed power cut interrupts it, and records
 * the cut: what it interrupted, and whether garbage collection was under way (the store cleaned a
 * victim during the interrupted step, or the cut hit a copy-back or an erase).
 */
function runUntilPowerCut(report: CrashSweepReport, victims: () => number, step: () => void): void {
  let before = victims();
  try {
    for (;;) {
      before = victims();
      step();
    }
  } catch (error) {
    if (!(error instanceof PowerLossError)) throw error;
    report.cuts++;
    report.interrupted[error.operation] = (report.interrupted[error.operation] ?? 0) + 1;
    if (error.operation !== 'program' || victims() > before) report.duringGc++;
  }
}

/** Page store: writes carry (lpn, version); the shadow holds the acknowledged version (-1: none). */
function pageTrial(chip: Chip, prng: Prng, cuts: number, report: CrashSweepReport): void {
  const L = 96;
  const config: PageFtlConfig = { logicalPages: L, ...randomLogConfig(prng), seed: prng.nextU32() };
  let ftl = PageFtl.format(chip.device, config);
  const acked = new Int32Array(L).fill(-1);
  const data = new Uint8Array(8);
  const view = new DataView(data.buffer);
  const out = new Uint8Array(8);
  const outView = new DataView(out.buffer);
  let version = 0;
  for (let c = 0; c < cuts; c++) {
    chip.device.armPowerCut(1 + prng.int(600), prng.nextU32());
    let inFlight = { lpn: -1, version: -1 };
    runUntilPowerCut(
      report,
      () => ftl.gcStats().victims,
      () => {
        const lpn = prng.int(L);
        if (prng.chance(0.1)) {
          inFlight = { lpn, version: -1 };
          ftl.trim(lpn, 1);
          acked[lpn] = -1;
        } else {
          version++;
          view.setInt32(0, lpn, true);
          view.setInt32(4, version, true);
          inFlight = { lpn, version };
          ftl.write(lpn, data, prng.int(2));
          acked[lpn] = version;
        }
        if (prng.chance(0.02)) ftl.idle(1);
      },
    );
    ftl = PageFtl.mount(chip.remount(), config);
    ftl.validate();
    for (let lpn = 0; lpn < L; lpn++) {
      const mapped = ftl.read(lpn, out);
      const got = mapped ? outView.getInt32(4, true) : -1;
      if (mapped) assert.equal(outView.getInt32(0, true), lpn, `lpn ${lpn} returned another page's data`);
      if (got === acked[lpn]) {
        if (lpn !== inFlight.lpn) report.acknowledgedChecked++;
        continue;
      }
      if (lpn === inFlight.lpn && got === inFlight.version) {
        report.inFlightSurvived++;
        acked[lpn] = got;
        continue;
      }
      if (got === -1 || got < (acked[lpn] as number)) report.lost++;
      else report.stale++;
      assert.fail(`after a power cut lpn ${lpn} reads version ${got}; acknowledged ${acked[lpn]}, in flight ${inFlight.lpn === lpn ? inFlight.version : 'none'}`);
    }
  }
}

/** Object store: puts carry (id, version); acknowledged = flushed (durable) puts and deletes. */
function objectTrial(chip: Chip, prng: Prng, cuts: number, report: CrashSweepReport): void {
  const objects = 48;
  const config: ObjectStoreConfig = { maxObjects: objects, ...randomLogConfig(prng), seed: prng.nextU32() };
  let store = ObjectStore.format(chip.device, config);
  /** Acknowledged (durable) state: version per id, -1 deleted or never put. */
  const acked = new Int32Array(objects).fill(-1);
  /** The values each object took since the last acknowledgement (-1: deleted). */
  const issued: number[][] = Array.from({ length: objects }, () => []);
  let version = 0;
  const acknowledge = (): void => {
    for (let id = 0; id < objects; id++) {
      const values = issued[id] as number[];
      if (values.length > 0) acked[id] = values[values.length - 1] as number;
      values.length = 0;
    }
  };
  for (let c = 0; c < cuts; c++) {
    chip.device.armPowerCut(1 + prng.int(400), prng.nextU32());
    runUntilPowerCut(
      report,
      () => store.gcStats().victims,
      () => {
        const r = prng.nextFloat();
        const id = prng.int(objects);
        if (r < 0.8) {
          const bytes = new Uint8Array(8 + prng.int(64));
          const view = new DataView(bytes.buffer);
          view.setInt32(0, id, true);
          view.setInt32(4, ++version, true);
          (issued[id] as number[]).push(version);
          store.put(id, bytes, prng.int(2));
        } else if (r < 0.9) {
          if (!store.has(id)) return;
          (issued[id] as number[]).push(-1);
          store.delete(id);
        } else {
          store.flush();
          acknowledge();
        }
        if (prng.chance(0.02)) store.idle(1);
      },
    );
    store = ObjectStore.mount(chip.remount(), config);
    store.validate();
    for (let id = 0; id < objects; id++) {
      const bytes = store.get(id);
      const view = bytes === null ? null : new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const got = view === null ? -1 : view.getInt32(4, true);
      if (view !== null) assert.equal(view.getInt32(0, true), id, `object ${id} returned another object's bytes`);
      const values = issued[id] as number[];
      if (got === acked[id] && values.length === 0) {
        report.acknowledgedChecked++;
      } else if (got === acked[id] || values.includes(got)) {
        // Unacknowledged puts and deletes may or may not have reached the chip; any of them (or none)
        // is a correct outcome, never something older than the acknowledged version.
        report.inFlightSurvived++;
      } else {
        if (got === -1 || got < (acked[id] as number)) report.lost++;
        else report.stale++;
        assert.fail(`after a power cut object ${id} reads version ${got}; acknowledged ${acked[id]}, unacknowledged ${values.join(',')}`);
      }
      acked[id] = got;
      values.length = 0;
    }
  }
}
