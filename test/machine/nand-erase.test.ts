/**
 * An erase resets a block's states at once and its spare cells only where someone looks (the views,
 * read(), validate(), a power cut, a file image): what the chip shows must be what an eager erase
 * leaves. A shadow model of every page's spare words checks it through random programs (every spare
 * length), copy-backs, runs of copy-backs and erases, looked at at random moments.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NandDevice, PageState, PowerLossError } from '../../src/machine/nand.ts';
import { Prng } from '../../src/util/prng.ts';

interface Shadow {
  words: Int32Array;
  states: Uint8Array;
  wp: Int32Array;
}

function shadowOf(d: NandDevice): Shadow {
  return { words: new Int32Array(d.pages * (d.spareBytes / 4)).fill(-1), states: new Uint8Array(d.pages), wp: new Int32Array(d.blocks) };
}

/** Random register spare words: the first `bytes / 4` of them are what a transfer of `bytes` moves. */
function stampRegister(d: NandDevice, prng: Prng): void {
  for (let i = 0; i < d.spareBytes / 4; i++) d.register.spareWords[i] = prng.int(1 << 30) - (1 << 29);
}

/** The model's page `dst` after a program (src −1) or a copy-back from `src`, `bytes` from the register. */
function shadowWrite(d: NandDevice, s: Shadow, src: number, dst: number, bytes: number, registerWords: Int32Array): void {
  const w = d.spareBytes / 4;
  for (let i = 0; i < w; i++) s.words[dst * w + i] = i < bytes / 4 ? (registerWords[i] as number) : src < 0 ? -1 : (s.words[src * w + i] as number);
  s.states[dst] = src < 0 ? PageState.Programmed : (s.states[src] as number);
}

function assertImage(d: NandDevice, s: Shadow, where: string): void {
  assert.deepEqual(d.spareWords, s.words, `${where}: the spare areas`);
  assert.deepEqual(d.pageStates, s.states, `${where}: the page states`);
}

function randomOps(spareBytes: number, storePayload: boolean, seed: number): void {
  const d = NandDevice.create({ geometry: { blocks: 6, pagesPerBlock: 8, pageBytes: 16, spareBytes }, storePayload });
  const s = shadowOf(d);
  const ppb = d.pagesPerBlock;
  const w = spareBytes / 4;
  const prng = new Prng(seed);
  const runPages = new Int32Array(ppb);
  const runSpares = new Int32Array(ppb * 4);
  for (let op = 0; op < 3000; op++) {
    const kind = prng.int(10);
    const b = prng.int(d.blocks);
    const wp = s.wp[b] as number;
    if (kind < 3 && wp < ppb) {
      const bytes = 4 * prng.int(w + 1);
      stampRegister(d, prng);
      d.program(b, wp, 0, bytes);
      shadowWrite(d, s, -1, b * ppb + wp, bytes, d.register.spareWords);
      s.wp[b] = wp + 1;
    } else if (kind < 5) {
      const src = prng.int(d.blocks);
      const count = Math.min(s.wp[src] as number, ppb - wp);
      if (src === b || count === 0) continue;
      const single = prng.int(2) === 0;
      for (let k = 0; k < count; k++) {
        runPages[k] = prng.int(s.wp[src] as number);
        for (let i = 0; i < 4; i++) runSpares[4 * k + i] = prng.int(1 << 30);
      }
      const bytes = single ? 4 * prng.int(w + 1) : 16;
      if (single) {
        stampRegister(d, prng);
        d.copyback(src, runPages[0] as number, b, wp, bytes);
        shadowWrite(d, s, src * ppb + (runPages[0] as number), b * ppb + wp, bytes, d.register.spareWords);
        s.wp[b] = wp + 1;
      } else {
        d.copybackRun(src, runPages, runSpares, 0, count, b, wp, bytes);
        for (let k = 0; k < count; k++) shadowWrite(d, s, src * ppb + (runPages[k] as number), b * ppb + wp + k, bytes, runSpares.subarray(4 * k));
        s.wp[b] = wp + count;
      }
    } else if (kind < 7) {
      d.eraseBlock(b);
      s.words.fill(-1, b * ppb * w, (b + 1) * ppb * w);
      s.states.fill(PageState.Erased, b * ppb, (b + 1) * ppb);
      s.wp[b] = 0;
    } else if (kind < 9) {
      const page = prng.int(ppb);
      const ppn = b * ppb + page;
      assert.equal(d.read(b, page, 0, spareBytes), s.states[ppn], `op ${op}: the state of block ${b} page ${page}`);
      assert.deepEqual(d.register.spareWords, s.words.subarray(ppn * w, (ppn + 1) * w), `op ${op}: read() of block ${b} page ${page}`);
    } else {
      assertImage(d, s, `op ${op}`);
      d.validate();
      const copy = NandDevice.over(d.buffer.slice(0));
      copy.validate();
      assert.deepEqual(copy.spareWords, s.words, `op ${op}: the image mounted again`);
    }
  }
  assertImage(d, s, 'the end');
  d.validate();
}

test('what the chip shows after erases is what an eager erase leaves: reads, views, validate, a copy of the image', () => {
  for (const [spareBytes, payload, seed] of [
    [16, false, 1],
    [16, true, 2],
    [24, false, 3],
    [24, true, 4],
  ] as const) {
    randomOps(spareBytes, payload, seed);
  }
});

test('an erase leaves the spare cells to be reset when looked at: a kept view sees the old bytes until a view is read again', () => {
  const d = NandDevice.create({ geometry: { blocks: 2, pagesPerBlock: 4, pageBytes: 16, spareBytes: 16 }, storePayload: false });
  const raw = new Int32Array(d.buffer);
  const at = d.spareWords.byteOffset / 4;
  d.register.spareWords.set([1, 2, 3, 4]);
  for (let p = 0; p < 4; p++) d.program(0, p, 0, 16);
  d.eraseBlock(0);
  assert.equal(raw[at], 1, 'the erase did not write the spare cells');
  assert.equal(d.pageState(0, 0), PageState.Erased);
  assert.ok(d.spareWords.subarray(0, 16).every((v) => v === -1), 'reading the view resets them');
  assert.equal(raw[at], -1);
});

test('a power cut leaves the image as an eager erase would, even through a buffer kept from before', () => {
  const d = NandDevice.create({ geometry: { blocks: 2, pagesPerBlock: 4, pageBytes: 16, spareBytes: 16 }, storePayload: false });
  const buffer = d.buffer;
  d.register.spareWords.set([5, 6, 7, 8]);
  for (let p = 0; p < 4; p++) d.program(0, p, 0, 16);
  d.eraseBlock(0);
  d.program(0, 0, 0, 8);
  d.armPowerCut(1, 9);
  assert.throws(() => d.program(1, 0, 0, 16), PowerLossError);
  const again = NandDevice.over(buffer);
  again.validate();
  assert.equal(again.read(0, 1, 0, 16), PageState.Erased);
  assert.deepEqual(Array.from(again.register.spareWords), [-1, -1, -1, -1]);
  assert.equal(again.read(0, 0, 0, 16), PageState.Programmed);
  assert.deepEqual(Array.from(again.register.spareWords), [5, 6, -1, -1], 'the words a short program did not transfer are erased');
});
