// copybackRun() and programFrom() against the calls they stand for: on twin chips, the run and the
// same copyback() calls in order (programFrom and register.data + program()) must leave the same
// image, counters, write pointers and register, and throw the same error at the same point: the
// NAND rules hold whichever way the FTL calls the chip, power cuts included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NandDevice, PageState } from '../../src/machine/nand.ts';

const GEOMETRY = { blocks: 8, pagesPerBlock: 4, pageBytes: 32, spareBytes: 16 };

/** Block 0 full, block 1 half written, block 3 page 0 torn by a power cut (Corrupt), the rest erased;
 * with page data, or (as the simulations run) without, where copybackRun takes its fast path. */
function prepared(payload = true): NandDevice {
  for (let seed = 0; ; seed++) {
    const d = NandDevice.create({ geometry: GEOMETRY, storePayload: payload });
    const put = (b: number, p: number): void => {
      d.register.data.fill(16 * b + p + 1);
      d.register.spareWords.set([0x1000 + 16 * b + p, b, p, 7]);
      d.program(b, p, payload ? 32 : 0, 16);
    };
    for (let p = 0; p < 4; p++) put(0, p);
    put(1, 0);
    put(1, 1);
    d.armPowerCut(1, seed);
    try {
      put(3, 0);
    } catch {
      // the cut: the chip is off until it is mounted again
    }
    const mounted = NandDevice.over(d.buffer);
    if (mounted.pageState(3, 0) === PageState.Corrupt) return mounted;
  }
}

function state(d: NandDevice, error: unknown, result: unknown): string {
  const wps = Array.from({ length: GEOMETRY.blocks }, (_, b) => d.writePointer(b));
  const err = error === null ? null : `${(error as Error).name}: ${(error as Error).message}`;
  return JSON.stringify({ err, result, counters: [d.programs, d.reads, d.copybacks, d.erases, d.bytesIn, d.bytesOut], wps, register: Array.from(d.register.spare) }) + Buffer.from(d.bytes).toString('base64');
}

function attempt<T>(body: () => T): { error: unknown; result: T | null } {
  try {
    return { error: null, result: body() };
  } catch (error) {
    return { error, result: null };
  }
}

interface RunCase {
  name: string;
  src: number;
  pages: number[];
  dst: number;
  dstPage: number;
  spareBytes: number;
  /** Program this many pages of the destination first. */
  dstFilled?: number;
}

const CASES: RunCase[] = [
  { name: 'a whole block to an erased one', src: 0, pages: [0, 1, 2, 3], dst: 2, dstPage: 0, spareBytes: 16 },
  { name: 'some pages, 4-byte spare transfer', src: 0, pages: [1, 3], dst: 2, dstPage: 0, spareBytes: 4 },
  { name: 'a Corrupt source copies Corrupt', src: 3, pages: [0], dst: 2, dstPage: 0, spareBytes: 16 },
  { name: 'an erased source mid-run: CopybackSourceError after the first two', src: 1, pages: [0, 1, 2], dst: 2, dstPage: 0, spareBytes: 16 },
  { name: 'past the end of the destination: the third copy is refused', src: 0, pages: [0, 1, 2], dst: 2, dstPage: 2, spareBytes: 16, dstFilled: 2 },
  { name: 'not at the write pointer: ProgramOrderError', src: 0, pages: [0], dst: 2, dstPage: 1, spareBytes: 16 },
  { name: 'onto a written page: PageNotErasedError', src: 0, pages: [0], dst: 1, dstPage: 0, spareBytes: 16 },
  { name: 'a source page out of range', src: 0, pages: [0, 4], dst: 2, dstPage: 0, spareBytes: 16 },
  { name: 'a source block out of range', src: 9, pages: [0], dst: 2, dstPage: 0, spareBytes: 16 },
  { name: 'a spare transfer of 6 bytes', src: 0, pages: [0], dst: 2, dstPage: 0, spareBytes: 6 },
];

function spareWordsFor(c: RunCase): Int32Array {
  const words = Math.max(1, c.spareBytes >>> 2);
  return Int32Array.from({ length: c.pages.length * words }, (_, i) => 0x5000 + i);
}

function runBoth(c: RunCase, cut: { at: number; seed: number } | null, payload = true): [string, string] {
  const out: string[] = [];
  for (const mode of ['calls', 'run'] as const) {
    const d = prepared(payload);
    for (let p = 0; p < (c.dstFilled ?? 0); p++) {
      d.register.spareWords[0] = 0x7000 + p;
      d.program(c.dst, p, 0, 4);
    }
    if (cut !== null) d.armPowerCut(cut.at, cut.seed);
    const spares = spareWordsFor(c);
    const words = c.spareBytes >>> 2;
    const { error, result } = attempt(() => {
      if (mode === 'run') return d.copybackRun(c.src, Int32Array.from(c.pages), spares, 0, c.pages.length, c.dst, c.dstPage, c.spareBytes);
      let corrupt = 0;
      c.pages.forEach((page, k) => {
        for (let i = 0; i < words; i++) d.register.spareWords[i] = spares[k * words + i] as number;
        if (d.copyback(c.src, page, c.dst, c.dstPage + k, c.spareBytes) === PageState.Corrupt) corrupt++;
      });
      return corrupt;
    });
    // Under a cut the returned count is not reached; the image and counters are what must agree.
    out.push(state(d, error, result));
  }
  return [out[0] as string, out[1] as string];
}

test('copybackRun() leaves what the same copyback() calls leave: image, counters, write pointers, register, error', () => {
  for (const payload of [true, false]) {
    for (const c of CASES) {
      const [calls, run] = runBoth(c, null, payload);
      assert.equal(run, calls, `${c.name}${payload ? '' : ', no page data'}`);
    }
    // The cases do reach the rules: the refusals throw, the good runs copy.
    const d = prepared(payload);
    assert.throws(() => d.copybackRun(1, Int32Array.from([0, 1, 2]), new Int32Array(12), 0, 3, 2, 0, 16), /CopybackSource|erased/i);
    assert.equal(d.writePointer(2), 2, 'the two pages before the refused one were copied');
    assert.equal(prepared(payload).copybackRun(3, Int32Array.from([0]), new Int32Array(4), 0, 1, 2, 0, 16), 1, 'one Corrupt source');
  }
});

test('a power cut at any copy of a run leaves what it leaves in the same copyback() calls', () => {
  let cuts = 0;
  for (const c of CASES.slice(0, 3)) {
    for (let at = 1; at <= c.pages.length; at++) {
      for (let seed = 0; seed < 6; seed++) {
        const [calls, run] = runBoth(c, { at, seed });
        assert.equal(run, calls, `${c.name}, cut at copy ${at}, seed ${seed}`);
        cuts++;
      }
    }
  }
  assert.ok(cuts > 30);
});

test('programFrom() leaves what register.data + program() leaves, torn programs included', () => {
  const payloads = [null, new Uint8Array(0), Uint8Array.from({ length: 5 }, (_, i) => i + 1), Uint8Array.from({ length: 32 }, (_, i) => 200 - i), new Uint8Array(33)];
  for (const data of payloads) {
    for (const cut of [null, 0, 1, 2, 3, 4, 5]) {
      const out: string[] = [];
      for (const mode of ['register', 'from'] as const) {
        const d = prepared();
        d.register.data.fill(0xab);
        if (cut !== null) d.armPowerCut(1, cut);
        d.register.spareWords.set([1, 2, 3, 4]);
        const { error, result } = attempt(() => {
          if (mode === 'from') return d.programFrom(2, 0, data, 16);
          if (data !== null && data.length <= 32) d.register.data.set(data);
          return d.program(2, 0, data === null ? 0 : data.length, 16);
        });
        // programFrom leaves register.data alone (but a torn program stages the data there to tear it).
        if (mode === 'register' && error === null) d.register.data.fill(0xab);
        out.push(state(d, error, result) + (error === null ? Buffer.from(d.register.data).toString('base64') : ''));
      }
      assert.equal(out[1], out[0], `data ${data === null ? 'null' : data.length} bytes, cut ${cut}`);
    }
  }
  assert.throws(() => prepared().programFrom(2, 0, new Uint8Array(33), 16), /transfer/i);
});

test('programSpare16() leaves what register.spareWords + program(…, 0, 16) leaves: rules, torn programs, other spare sizes', () => {
  const words = [0x4b460100, 77, -5, 1];
  // (block, page) cases: the write pointer, out of order, onto a written page, a block out of range.
  const targets: [number, number][] = [
    [2, 0],
    [2, 1],
    [0, 0],
    [9, 0],
    [1, 2],
  ];
  let compared = 0;
  for (const payload of [true, false]) {
    for (const [b, p] of targets) {
      for (const cut of [null, 0, 1, 2, 3]) {
        const out: string[] = [];
        for (const mode of ['register', 'words'] as const) {
          const d = prepared(payload);
          if (cut !== null) d.armPowerCut(1, cut);
          const { error, result } = attempt(() => {
            if (mode === 'words') return d.programSpare16(b, p, words[0]!, words[1]!, words[2]!, words[3]!);
            d.register.spareWords.set(words);
            return d.program(b, p, 0, 16);
          });
          out.push(state(d, error, result));
        }
        assert.equal(out[1], out[0], `block ${b} page ${p}, ${payload ? '' : 'no page data, '}cut ${cut}`);
        compared++;
      }
    }
  }
  assert.ok(compared >= 50);
  // A spare area larger than the transfer (its tail stays erased) and one too small for it.
  for (const spareBytes of [32, 8]) {
    const out: string[] = [];
    for (const mode of ['register', 'words'] as const) {
      const d = NandDevice.create({ geometry: { ...GEOMETRY, spareBytes }, storePayload: false });
      const { error, result } = attempt(() => {
        if (mode === 'words') return d.programSpare16(1, 0, 1, 2, 3, 4);
        d.register.spareWords.set([1, 2, 3, 4].slice(0, spareBytes / 4));
        return d.program(1, 0, 0, 16);
      });
      out.push(state(d, error, result));
    }
    assert.equal(out[1], out[0], `spare of ${spareBytes} bytes`);
  }
  const small = NandDevice.create({ geometry: { ...GEOMETRY, spareBytes: 8 }, storePayload: false });
  assert.throws(() => small.programSpare16(1, 0, 1, 2, 3, 4), /transfer/i);
  const d = prepared(false);
  d.programSpare16(2, 0, 9, 8, 7, 6);
  assert.deepEqual(Array.from(d.spareWords.subarray(2 * 4 * 4, 2 * 4 * 4 + 4)), [9, 8, 7, 6]);
  assert.deepEqual(Array.from(d.register.spareWords), [9, 8, 7, 6], 'the words passed through the register');
});
