import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BadBlockError,
  CopybackSourceError,
  EraseAlignmentError,
  EraseStatus,
  NandAddressError,
  NandDevice,
  NandGeometryError,
  NandTransferError,
  PageNotErasedError,
  PageState,
  PowerLossError,
  ProgramOrderError,
} from '../../src/machine/nand.ts';
import { NandImageFile } from '../../src/machine/nand-file.ts';
import { NAND_TIMINGS } from '../../src/machine/nand-timing.ts';
import type { NandSink } from '../../src/machine/nand.ts';

const GEOMETRY = { blocks: 8, pagesPerBlock: 4, pageBytes: 32, spareBytes: 16 };

function chip(extra: Partial<Parameters<typeof NandDevice.create>[0]> = {}): NandDevice {
  return NandDevice.create({ geometry: GEOMETRY, ...extra });
}

function programText(d: NandDevice, block: number, page: number, text: string, tag: number): void {
  const bytes = new TextEncoder().encode(text);
  d.register.data.set(bytes);
  d.register.spareWords[0] = tag;
  d.program(block, page, bytes.length, 4);
}

/** Every counter and every byte of the image, to show a refused call changed nothing. */
function snapshot(d: NandDevice): string {
  return JSON.stringify([d.programs, d.reads, d.copybacks, d.erases, d.bytesIn, d.bytesOut]) + Buffer.from(d.bytes).toString('base64');
}

test('a new chip is erased: pages read as Erased and 0xFF, write pointers at 0', () => {
  const d = chip();
  assert.equal(d.pages, 32);
  assert.equal(d.read(3, 2, 32, 16), PageState.Erased);
  assert.ok(d.register.data.every((b) => b === 0xff));
  assert.ok(d.register.spare.every((b) => b === 0xff));
  for (let b = 0; b < 8; b++) assert.equal(d.writePointer(b), 0);
  d.validate();
});

test('program then read returns the bytes; untransferred bytes stay 0xFF', () => {
  const d = chip();
  programText(d, 1, 0, 'hello', 0x1234);
  assert.equal(d.read(1, 0, 32, 16), PageState.Programmed);
  assert.equal(new TextDecoder().decode(d.register.data.subarray(0, 5)), 'hello');
  assert.equal(d.register.data[5], 0xff);
  assert.equal(d.register.spareWords[0], 0x1234);
  assert.equal(d.register.spareWords[1], -1, 'spare words not transferred stay erased');
  assert.equal(d.writePointer(1), 1);
  d.validate();
});

test('the rules: in-order programs, no reprogramming, whole-block erases, bad blocks — each a typed error that changes nothing', () => {
  const d = chip({ enduranceCycles: 1 });
  programText(d, 0, 0, 'a', 1);
  programText(d, 0, 1, 'b', 2);
  const before = snapshot(d);
  assert.throws(() => d.program(0, 1, 0, 4), PageNotErasedError);
  assert.throws(() => d.program(0, 0, 0, 4), PageNotErasedError);
  assert.throws(() => d.program(0, 3, 0, 4), (e: unknown) => e instanceof ProgramOrderError && e.block === 0 && e.page === 3 && e.expectedPage === 2);
  assert.throws(() => d.program(8, 0, 0, 4), NandAddressError);
  assert.throws(() => d.program(1.5, 0, 0, 4), NandAddressError);
  assert.throws(() => d.program(0, 4, 0, 4), NandAddressError);
  assert.throws(() => d.read(0, -1, 0, 0), NandAddressError);
  assert.throws(() => d.program(1, 0, 33, 4), NandTransferError);
  assert.throws(() => d.program(1, 0, 0, 6), NandTransferError);
  assert.throws(() => d.program(1, 0, 0, 20), NandTransferError);
  assert.throws(() => d.copyback(0, 0, 0, 0, 0), PageNotErasedError);
  assert.throws(() => d.erase(2, 4), EraseAlignmentError);
  assert.throws(() => d.erase(4, 3), EraseAlignmentError);
  assert.throws(() => d.erase(0, 0), EraseAlignmentError);
  assert.equal(snapshot(d), before);
  d.validate();
  assert.equal(d.erase(0, 8), EraseStatus.Ok);
  assert.equal(d.writePointer(0), 0);
  assert.equal(d.eraseCount(0), 1);
  // The endurance limit is 1 erase: the second fails and the block goes bad.
  programText(d, 0, 0, 'c', 3);
  assert.equal(d.eraseBlock(0), EraseStatus.Failed);
  assert.ok(d.isBad(0));
  assert.equal(d.stats().badBlocks, 1);
  const afterBad = snapshot(d);
  assert.throws(() => d.program(0, 1, 0, 4), BadBlockError);
  assert.throws(() => d.read(0, 0, 0, 4), BadBlockError);
  assert.throws(() => d.eraseBlock(0), BadBlockError);
  assert.throws(() => d.copyback(0, 0, 2, 0, 0), BadBlockError);
  assert.throws(() => d.erase(0, 4), BadBlockError);
  assert.equal(snapshot(d), afterBad);
  d.validate();
});

test('a chip that keeps no page data refuses data transfers but counts spare traffic', () => {
  const d = chip({ storePayload: false });
  assert.equal(d.data, null);
  assert.throws(() => d.program(0, 0, 1, 4), NandTransferError);
  assert.throws(() => d.read(0, 0, 1, 0), /keeps no page data/);
  d.register.spareWords[0] = 7;
  d.program(0, 0, 0, 4);
  assert.equal(d.read(0, 0, 0, 4), PageState.Programmed);
  assert.equal(d.register.spareWords[0], 7);
  assert.equal(d.bytesIn, 4);
  assert.equal(d.bytesOut, 4);
});

test('copy-back copies data and spare inside the chip, the spare head from the register', () => {
  const d = chip();
  programText(d, 2, 0, 'payload', 0x55);
  d.register.spareWords.fill(0);
  d.register.spareWords[0] = 0x66;
  const bytesIn = d.bytesIn;
  assert.equal(d.copyback(2, 0, 5, 0, 4), PageState.Programmed);
  assert.equal(d.bytesIn - bytesIn, 4, 'only the modified spare bytes cross the bus');
  d.read(5, 0, 7, 8);
  assert.equal(new TextDecoder().decode(d.register.data.subarray(0, 7)), 'payload');
  assert.equal(d.register.spareWords[0], 0x66);
  assert.equal(d.register.spareWords[1], -1, 'the rest of the spare is the source page');
  d.validate();
});

test('busy time and energy are the counted operations times the cited figures', () => {
  const d = chip({ timing: 'mlc' });
  const t = NAND_TIMINGS.mlc;
  programText(d, 0, 0, 'abcd', 1);
  d.read(0, 0, 4, 4);
  d.copyback(0, 0, 1, 0, 0);
  d.eraseBlock(3);
  const expected = t.readNs + t.programNs + (t.readNs + t.programNs) + t.eraseNs + (8 + 8) * t.transferNsPerByte;
  const s = d.stats();
  assert.equal(s.busyNs, expected);
  assert.ok(Math.abs(s.energyNj - (expected * t.activePowerMw) / 1000) < 1e-9);
  assert.deepEqual([s.reads, s.programs, s.copybacks, s.erases], [1, 1, 1, 1]);
  assert.deepEqual(s.eraseCounts, { min: 0, max: 1, mean: 1 / 8 });
});

test('geometry and image checks', () => {
  assert.throws(() => NandDevice.create({ geometry: { ...GEOMETRY, spareBytes: 6 } }), NandGeometryError);
  assert.throws(() => NandDevice.create({ geometry: { ...GEOMETRY, blocks: 0 } }), NandGeometryError);
  assert.throws(() => NandDevice.create({ geometry: GEOMETRY, timing: 'qlc' as 'slc' }), /expected one of slc, mlc/);
  assert.throws(() => NandDevice.over(new ArrayBuffer(64)), /bad magic/);
  const d = chip();
  assert.throws(() => NandDevice.over(d.buffer.slice(0, d.buffer.byteLength - 8)), /expected \d+ for its geometry/);
});

test('power cuts: the interrupted program did nothing, finished, or left the page Corrupt; then the chip is off until mounted again', () => {
  const seen = new Set<number>();
  for (let seed = 0; seed < 40; seed++) {
    const d = chip();
    programText(d, 0, 0, 'old', 1);
    d.armPowerCut(2, seed);
    programText(d, 0, 1, 'one', 2);
    assert.throws(() => programText(d, 0, 2, 'two', 3), (e: unknown) => e instanceof PowerLossError && e.interrupted && e.operation === 'program');
    assert.throws(() => d.read(0, 0, 0, 4), (e: unknown) => e instanceof PowerLossError && !e.interrupted);
    const again = NandDevice.over(d.buffer);
    again.validate();
    const state = again.pageState(0, 2);
    seen.add(state);
    assert.equal(again.writePointer(0), state === PageState.Erased ? 2 : 3);
    assert.equal(again.read(0, 1, 3, 4), PageState.Programmed, 'pages programmed before the cut are intact');
  }
  assert.deepEqual([...seen].sort(), [PageState.Erased, PageState.Programmed, PageState.Corrupt]);
});

test('power cuts during an erase leave each page erased, Corrupt or intact', () => {
  const states = new Set<number>();
  for (let seed = 0; seed < 30; seed++) {
    const d = chip();
    for (let p = 0; p < 4; p++) programText(d, 1, p, `p${p}`, p);
    d.armPowerCut(1, seed);
    assert.throws(() => d.eraseBlock(1), (e: unknown) => e instanceof PowerLossError && e.operation === 'erase');
    const again = NandDevice.over(d.buffer);
    again.validate();
    for (let p = 0; p < 4; p++) states.add(again.pageState(1, p));
  }
  assert.equal(states.size, 3);
});

test('copy-back from an erased page is refused (typed, naming the source); from a Corrupt page it gives a Corrupt copy', () => {
  const d = chip();
  programText(d, 0, 0, 'a', 1);
  const before = snapshot(d);
  assert.throws(
    () => d.copyback(0, 1, 1, 0, 4),
    (e: unknown) => e instanceof CopybackSourceError && e.block === 0 && e.page === 1 && /block 0 page 1: the page is erased; expected a programmed/.test(e.message),
  );
  assert.throws(() => d.copyback(3, 2, 1, 0, 0), CopybackSourceError, 'a never-written block too');
  assert.throws(() => d.copyback(0, 1, 1, 1, 4), ProgramOrderError, 'the destination rules are checked first');
  assert.equal(snapshot(d), before);
  assert.equal(d.writePointer(1), 0);
  d.validate();
  const again = NandDevice.over(d.buffer);
  again.validate();
  programText(again, 1, 0, 'b', 2);
  assert.equal(again.pageState(1, 0), PageState.Programmed, 'the refused copy-back left its destination programmable');

  // A page torn by a cut reads Corrupt; copying it back programs a Corrupt page (the write pointer moves on).
  let torn: NandDevice | null = null;
  for (let seed = 0; torn === null; seed++) {
    const t = chip();
    t.armPowerCut(1, seed);
    assert.throws(() => programText(t, 0, 0, 'torn', 3), PowerLossError);
    const mounted = NandDevice.over(t.buffer);
    if (mounted.pageState(0, 0) === PageState.Corrupt) torn = mounted;
  }
  assert.equal(torn.copyback(0, 0, 2, 0, 4), PageState.Corrupt);
  assert.equal(torn.pageState(2, 0), PageState.Corrupt);
  assert.equal(torn.writePointer(2), 1);
  torn.validate();
  const remounted = NandDevice.over(torn.buffer);
  assert.equal(remounted.writePointer(2), 1);
  assert.throws(() => remounted.program(2, 0, 0, 4), PageNotErasedError);
});

test('an interrupted erase that changed the cells counts as an erase (stats, wear) and obeys the endurance limit', () => {
  const outcomes = new Set<string>();
  for (let seed = 0; seed < 40; seed++) {
    const d = chip({ enduranceCycles: 1 });
    assert.equal(d.eraseBlock(1), EraseStatus.Ok);
    for (let p = 0; p < 4; p++) programText(d, 1, p, `p${p}`, p);
    const busy = d.busyNs;
    d.armPowerCut(1, seed);
    assert.throws(() => d.eraseBlock(1), (e: unknown) => e instanceof PowerLossError && e.operation === 'erase' && e.block === 1);
    const again = NandDevice.over(d.buffer);
    again.validate();
    if (again.eraseCount(1) === 1) {
      // Nothing happened: not counted, the block intact.
      assert.equal(d.erases, 1);
      assert.equal(d.busyNs, busy);
      for (let p = 0; p < 4; p++) assert.equal(again.pageState(1, p), PageState.Programmed);
      outcomes.add('nothing');
    } else {
      // The second erase of a block rated for one fails, interrupted or not: the block goes bad.
      assert.equal(again.eraseCount(1), 2);
      assert.equal(d.erases, 2, 'stats count the interrupted erase');
      assert.equal(d.eraseFailures, 1);
      assert.equal(d.busyNs, busy + NAND_TIMINGS.slc.eraseNs);
      assert.ok(again.isBad(1), 'a worn-out block fails the interrupted erase too');
      outcomes.add('failed');
    }
  }
  assert.deepEqual([...outcomes].sort(), ['failed', 'nothing']);
});

/** A sink that records every write (with the bytes as they were when written). */
function recorder(d: NandDevice): { writes: [number, Uint8Array][]; sink: NandSink } {
  const writes: [number, Uint8Array][] = [];
  return {
    writes,
    sink: {
      write: (offset, length) => writes.push([offset, d.bytes.slice(offset, offset + length)]),
      close: () => {},
    },
  };
}

test('a host crash between the file writes of a program, copy-back or erase leaves an image that mounts and validates', () => {
  const d = chip();
  programText(d, 0, 0, 'zero', 1);
  programText(d, 0, 1, 'one', 2);
  const base = d.bytes.slice();
  const log = recorder(d);
  d.attachSink(log.sink);
  programText(d, 0, 2, 'two', 3);
  d.register.spareWords[0] = 7;
  d.copyback(0, 0, 4, 0, 4);
  d.eraseBlock(0);
  assert.deepEqual(log.writes.reduce((image, [offset, bytes]) => (image.set(bytes, offset), image), base.slice()), d.bytes, 'all the writes give the image');
  const states = new Set<string>();
  for (let k = 0; k <= log.writes.length; k++) {
    const image = base.slice();
    for (const [offset, bytes] of log.writes.slice(0, k)) image.set(bytes, offset);
    const mounted = NandDevice.over(image.buffer);
    mounted.resetTornErasedPages();
    mounted.validate();
    states.add([0, 1, 2].map((p) => mounted.pageState(0, p)).join(''));
    for (let p = 0; p < 3; p++) {
      if (mounted.pageState(0, p) !== PageState.Programmed) continue;
      mounted.read(0, p, 4, 4);
      assert.equal(mounted.register.spareWords[0], p + 1, `prefix ${k}: block 0 page ${p} reads as programmed, so it holds what was programmed`);
    }
  }
  const { Erased: E, Programmed: P } = PageState;
  assert.deepEqual([...states].sort(), [`${P}${P}${E}`, `${P}${P}${P}`, `${E}${E}${E}`].sort(), 'before the program, after it, erased: nothing half done');
});

test('a file image holds exactly the chip: reopened after a power cut, it is the torn chip', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kmem-nand-'));
  try {
    for (let seed = 0; seed < 6; seed++) {
      const path = join(dir, `chip-${seed}.nand`);
      const d = NandImageFile.create(path, { geometry: GEOMETRY });
      programText(d, 0, 0, 'persisted', 9);
      programText(d, 0, 1, 'second', 10);
      d.armPowerCut(seed % 2 === 0 ? 1 : 2, seed);
      assert.throws(() => {
        d.eraseBlock(0);
        programText(d, 1, 0, 'cut', 11);
      }, PowerLossError);
      d.close();
      assert.deepEqual(new Uint8Array(readFileSync(path)), d.bytes, 'the file is the image byte for byte');
      const reopened = NandImageFile.open(path);
      reopened.validate();
      assert.deepEqual(reopened.bytes, d.bytes);
      reopened.eraseBlock(0);
      reopened.close();
      const third = NandImageFile.open(path);
      assert.equal(third.writePointer(0), 0, 'later operations reach the file');
      third.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('opening a file image resets a page a host crash left with bytes but no state byte', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kmem-nand-'));
  try {
    const path = join(dir, 'chip.nand');
    const d = NandImageFile.create(path, { geometry: GEOMETRY });
    programText(d, 0, 0, 'kept', 1);
    d.close();
    // What a crash between persistPage's writes leaves: page 1's spare and data, its state still Erased.
    const image = new Uint8Array(readFileSync(path));
    const page1 = NandDevice.over(image.slice().buffer);
    page1.register.data.set(new TextEncoder().encode('half'));
    page1.register.spareWords[0] = 2;
    page1.program(0, 1, 4, 4);
    const spareAt = page1.spare.byteOffset + 1 * GEOMETRY.spareBytes;
    const dataAt = (page1.data as Uint8Array).byteOffset + 1 * GEOMETRY.pageBytes;
    image.set(page1.bytes.subarray(spareAt, spareAt + GEOMETRY.spareBytes), spareAt);
    image.set(page1.bytes.subarray(dataAt, dataAt + GEOMETRY.pageBytes), dataAt);
    writeFileSync(path, image);
    assert.throws(() => NandDevice.over(image.slice().buffer).validate(), /erased, but its spare area is not all 0xFF/);
    const reopened = NandImageFile.open(path);
    reopened.validate();
    assert.equal(reopened.writePointer(0), 1);
    assert.equal(reopened.read(0, 0, 4, 4), PageState.Programmed);
    reopened.close();
    NandDevice.over(new Uint8Array(readFileSync(path)).buffer).validate();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
