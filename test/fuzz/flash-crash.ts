/**
 * Power-cut sweep for the flash stores. Each trial formats a small chip (in memory or as a file
 * image) with a random configuration (victim policies, frontiers, streams, watermarks, free-block
 * order, static wear levelling, sometimes an endurance limit), runs a random mix of writes and TRIMs
 * (page store) or puts, deletes and flushes (object store) against a shadow of what was
 * acknowledged, and cuts the power at a random program, copy-back or erase
 * (NandDevice.armPowerCut): mid-program, mid-erase, mid-GC all happen. Then it mounts the image
 * again, as after a reboot, and checks:
 *   page store: every page reads as its acknowledged version (a write is acknowledged when write()
 *   returns), or as the one write or TRIM in flight at the cut; nothing older, nothing else;
 *   object store: acknowledged means durable, by the store's own contract: every put or delete whose
 *   version is ≤ durableVersion (read at the cut) is acknowledged, whether a flush() or a full page
 *   buffer programmed it. Each object reads as its last acknowledged put or delete, or as a later,
 *   unacknowledged one (its page may have reached the chip); never as anything older, never as a
 *   value it was not given;
 *   the store and the chip validate().
 * Each image takes `cutsPerImage` cuts in a row (mount, keep going, cut again), so recovery also runs
 * on images that earlier recoveries wrote. An image whose data no longer fits (worn-out blocks:
 * FlashFullError, which comes before anything is stored) is checked without a cut and retired.
 * Page-store images use one of two profiles: 96 logical pages with 10 % TRIMs, or 128 (α ≈ 1.3)
 * with 35 % TRIMs, where a write and its TRIM often share a victim.
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
import { FlashFullError } from '../../src/flash/errors.ts';
import type { LogStoreConfig } from '../../src/flash/log-store.ts';
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
  /** Images retired because their data no longer fitted (worn-out blocks). */
  fullImages: number;
  /** Bad blocks (worn out) on the images, counted at each mount. */
  badBlocks: number;
  acknowledgedChecked: number;
  /** Object store: checks of an acknowledgement no flush() gave (a full page buffer was programmed). */
  implicitlyAcknowledged: number;
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

function makeChip(store: 'page' | 'object', image: 'memory' | 'file', dir: string, index: number, enduranceCycles: number): Chip {
  const options = { geometry: GEOMETRY[store], enduranceCycles };
  if (image === 'memory') {
    let device = NandDevice.create(options);
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
  let device = NandImageFile.create(path, options);
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

/** A random store configuration, and the chip's endurance limit (0: none; else low enough that
 * blocks wear out and go bad during the trial). */
function randomConfig(prng: Prng, store: 'page' | 'object'): { log: LogStoreConfig; enduranceCycles: number } {
  const gcFrontier = prng.chance(0.5) ? 'shared' : 'separate';
  const hostStreams = prng.chance(0.7) ? 1 : 2;
  const policy = prng.pick(VICTIM_POLICIES);
  const lowWatermark = store === 'page' && hostStreams === 1 && gcFrontier === 'shared' ? 1 : 2;
  return {
    log: {
      policy,
      backgroundPolicy: prng.chance(0.5) ? policy : prng.pick(VICTIM_POLICIES),
      gcFrontier,
      hostStreams,
      lowWatermark,
      highWatermark: lowWatermark + prng.int(3),
      freeBlockOrder: prng.chance(0.5) ? 'fifo' : 'least-worn',
      staticWearLevelling: prng.chance(0.3) ? 4 : 0,
    },
    enduranceCycles: prng.chance(0.25) ? 4 + prng.int(12) : 0,
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
    fullImages: 0,
    badBlocks: 0,
    acknowledgedChecked: 0,
    implicitlyAcknowledged: 0,
    inFlightSurvived: 0,
    lost: 0,
    stale: 0,
  };
  const dir = options.image === 'file' ? mkdtempSync(join(tmpdir(), 'kmem-crash-')) : '';
  try {
    while (report.cuts < options.cuts) {
      const config = randomConfig(prng, options.store);
      const chip = makeChip(options.store, options.image, dir, report.images++, config.enduranceCycles);
      try {
        const trial = options.store === 'page' ? pageTrial : objectTrial;
        trial(chip, config.log, prng, Math.min(perImage, options.cuts - report.cuts), report);
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
 * victim during the interrupted step, or the cut hit a copy-back or an erase). Returns false when
 * the store refused a step for want of room instead (FlashFullError: nothing of that step stored).
 */
function runUntilPowerCut(report: CrashSweepReport, victims: () => number, step: () => void): boolean {
  let before = victims();
  try {
    for (;;) {
      before = victims();
      step();
    }
  } catch (error) {
    if (error instanceof FlashFullError) {
      report.fullImages++;
      return false;
    }
    if (!(error instanceof PowerLossError)) throw error;
    report.cuts++;
    report.interrupted[error.operation] = (report.interrupted[error.operation] ?? 0) + 1;
    if (error.operation !== 'program' || victims() > before) report.duringGc++;
    return true;
  }
}

/** Page store: writes carry (lpn, version); the shadow holds the acknowledged version (-1: none). */
function pageTrial(chip: Chip, log: LogStoreConfig, prng: Prng, cuts: number, report: CrashSweepReport): void {
  const dense = prng.chance(0.5);
  const L = dense ? 128 : 96;
  const trimShare = dense ? 0.35 : 0.1;
  const config: PageFtlConfig = { logicalPages: L, ...log, seed: prng.nextU32() };
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
    const cut = runUntilPowerCut(
      report,
      () => ftl.gcStats().victims,
      () => {
        const lpn = prng.int(L);
        if (prng.chance(trimShare)) {
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
    if (!cut) inFlight = { lpn: -1, version: -1 };
    chip.device.disarmPowerCut();
    ftl = PageFtl.mount(chip.remount(), config);
    ftl.validate();
    report.badBlocks += ftl.gcStats().badBlocks;
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
    if (!cut) return;
  }
}

/** One put (value ≥ 1, the test's own counter, in the object's bytes) or delete (value -1), with the
 * version the store gave it. */
interface ObjectOp {
  version: number;
  value: number;
}

/** Object store: puts carry (id, value); acknowledged = version ≤ durableVersion at the cut. */
function objectTrial(chip: Chip, log: LogStoreConfig, prng: Prng, cuts: number, report: CrashSweepReport): void {
  const objects = 48;
  const config: ObjectStoreConfig = { maxObjects: objects, ...log, seed: prng.nextU32() };
  let store = ObjectStore.format(chip.device, config);
  /** What each object reads as on the mounted chip (-1: absent); every version there is durable. */
  const settled = new Int32Array(objects).fill(-1);
  /** The puts and deletes of each object since the chip was last mounted, oldest first. */
  const history: ObjectOp[][] = Array.from({ length: objects }, () => []);
  let value = 0;
  for (let c = 0; c < cuts; c++) {
    chip.device.armPowerCut(1 + prng.int(400), prng.nextU32());
    let flushed = store.durableVersion;
    const cut = runUntilPowerCut(
      report,
      () => store.gcStats().victims,
      () => {
        const r = prng.nextFloat();
        const id = prng.int(objects);
        if (r < 0.75) {
          const bytes = new Uint8Array(8 + prng.int(64));
          const view = new DataView(bytes.buffer);
          view.setInt32(0, id, true);
          view.setInt32(4, ++value, true);
          const version = store.put(id, bytes, prng.int(2));
          (history[id] as ObjectOp[]).push({ version, value });
        } else if (r < 0.9) {
          if (!store.has(id)) return;
          const version = store.delete(id, prng.int(2));
          (history[id] as ObjectOp[]).push({ version, value: -1 });
        } else {
          flushed = store.flush();
        }
        if (prng.chance(0.02)) store.idle(1);
      },
    );
    // Read at the cut (or the refusal): every version up to here was on the chip.
    const durable = store.durableVersion;
    chip.device.disarmPowerCut();
    store = ObjectStore.mount(chip.remount(), config);
    store.validate();
    report.badBlocks += store.gcStats().badBlocks;
    for (let id = 0; id < objects; id++) {
      const bytes = store.get(id);
      const view = bytes === null ? null : new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const got = view === null ? -1 : view.getInt32(4, true);
      if (view !== null) assert.equal(view.getInt32(0, true), id, `object ${id} returned another object's bytes`);
      const ops = history[id] as ObjectOp[];
      let ackedAt = -1;
      for (let k = 0; k < ops.length; k++) if ((ops[k] as ObjectOp).version <= durable) ackedAt = k;
      const acked = ackedAt < 0 ? (settled[id] as number) : (ops[ackedAt] as ObjectOp).value;
      if (got === acked) {
        report.acknowledgedChecked++;
        if (ackedAt >= 0 && (ops[ackedAt] as ObjectOp).version > flushed) report.implicitlyAcknowledged++;
      } else if (ops.slice(ackedAt + 1).some((op) => op.value === got)) {
        // A put or delete after the last acknowledged one: its page may have reached the chip.
        report.inFlightSurvived++;
      } else {
        if (got === -1 || got < acked) report.lost++;
        else report.stale++;
        assert.fail(
          `after a power cut object ${id} reads value ${got}; acknowledged ${acked} (durable version ${durable}), puts and deletes since the last mount ${ops.map((op) => `${op.value}@${op.version}`).join(', ')}`,
        );
      }
      settled[id] = got;
      ops.length = 0;
    }
    if (!cut) return;
  }
}
