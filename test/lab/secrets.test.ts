import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KEY_PIECE_BYTES, KEY_PLACES, OUTPUTS, keyBytesFound, secretsRun, secretsSweep } from '../../src/lab/workloads/secrets-run.ts';
import { OVERFLOW_PLACES, overflowTable } from '../../src/lab/workloads/secrets-overflow.ts';
import { Prng } from '../../src/util/prng.ts';

test('secrets sweep (smoke, 50 runs): tagging on leaks no tagged key byte, swap included; the control finds the keys', () => {
  const sweep = secretsSweep(3, 50, 8 << 20);
  assert.equal(sweep.leakingRuns, 0);
  for (const o of OUTPUTS) {
    assert.equal(sweep.found.on.secret[o], 0);
    assert.equal(sweep.found.on.tagged[o], 0);
  }
  assert.equal(sweep.controlMisses, 0, 'every control image, and every swap device swapped while the key lived, holds all of it');
  for (const o of OUTPUTS) assert.ok(sweep.found.off.secret[o] > 0, `control: the search finds the secret key in the ${o}`);
  assert.ok(sweep.found.off.tagged.swap > 0, 'control: the search finds the tagged key in the swap device');
  assert.ok(sweep.found.on.untagged.swap > 0, 'an untagged key is swapped out even with tagging on');
  assert.ok(OUTPUTS.reduce((s, o) => s + sweep.found.on.untagged[o], 0) > 0, 'untagged keys leak even with tagging on');
});

test('overflow table: every overflow of 1 … 4096 bytes past secret memory or a KFENCE object is caught; ordinary memory catches none', () => {
  const rows = overflowTable();
  for (const place of OVERFLOW_PLACES) {
    const mine = rows.filter((r) => r.place === place);
    assert.equal(mine.reduce((s, r) => s + r.attempts, 0), 4096);
    const caught = mine.reduce((s, r) => s + r.caught, 0);
    assert.equal(caught, place === 'ordinary' ? 0 : 4096, place);
  }
  assert.match(rows.find((r) => r.place === 'secret')?.caughtBy ?? '', /guard page/);
  assert.match(rows.find((r) => r.place === 'kfence')?.caughtBy ?? '', /KFENCE/);
});

test('one run: a control run with the image taken while the key lives finds every key byte in it', () => {
  for (let seed = 1; seed < 40; seed++) {
    const r = secretsRun({ seed, tagging: false, dumpPolicy: 'exclude', imagePolicy: 'refuse', ramBytes: 8 << 20 });
    assert.equal(r.imageRefused, false, 'nothing is tagged, so refuse has nothing to refuse');
    if (!r.beforeFree.includes('image')) continue;
    for (const p of KEY_PLACES) assert.equal(r.found[p].image, r.keyBytes);
    return;
  }
  assert.fail('no seed took the image before the free');
});

test('keyBytesFound counts whole pieces present, and only where the filter allows', () => {
  const key = new Uint8Array(48).map((_, i) => i * 7 + 1);
  const hay = new Uint8Array(200);
  hay.set(key.subarray(16, 32), 100);
  assert.equal(keyBytesFound(hay, key), 16);
  assert.equal(keyBytesFound(hay, key, (i) => i < 100), 0);
  hay.set(key, 0);
  assert.equal(keyBytesFound(hay, key), 48);
});

/** The search keyBytesFound replaces: every offset, every piece, in order. */
function naiveKeyBytesFound(hay: Uint8Array, key: Uint8Array, where: (offset: number) => boolean): number {
  let found = 0;
  for (let at = 0; at + KEY_PIECE_BYTES <= key.length; at += KEY_PIECE_BYTES) {
    for (let i = 0; i + KEY_PIECE_BYTES <= hay.length; i++) {
      let j = 0;
      while (j < KEY_PIECE_BYTES && hay[i + j] === key[at + j]) j++;
      if (j === KEY_PIECE_BYTES && where(i)) {
        found += KEY_PIECE_BYTES;
        break;
      }
    }
  }
  return found;
}

test('keyBytesFound (a strided one-pass search) agrees with a naive search at every offset, at the hay ends, with repeated words and filters', () => {
  const prng = new Prng(7);
  for (let trial = 0; trial < 300; trial++) {
    const key = new Uint8Array(KEY_PIECE_BYTES * prng.range(1, 6)).map(() => (prng.int(4) === 0 ? 0 : prng.int(4))); // few values: repeated words
    const hay = new Uint8Array(prng.range(KEY_PIECE_BYTES, 400)).map(() => prng.int(4));
    for (let n = prng.int(4); n > 0; n--) {
      const piece = prng.int(key.length / KEY_PIECE_BYTES) * KEY_PIECE_BYTES;
      const at = prng.int(hay.length - KEY_PIECE_BYTES + 1);
      hay.set(key.subarray(piece, piece + KEY_PIECE_BYTES), at);
    }
    const cut = prng.int(hay.length);
    const filters = [() => true, (i: number) => i >= cut, (i: number) => i % 3 === 0];
    for (const where of filters) assert.equal(keyBytesFound(hay, key, where), naiveKeyBytesFound(hay, key, where), `trial ${trial}`);
  }
});

test('keys never straddle a page (a piece split over two frames is one no search finds), and each control image taken while they live holds all of them', () => {
  // Seed 11's 1000-run sweep had a control run whose image missed 16 of 192 key bytes: a piece
  // across a page boundary, its two frames apart in RAM and in the image.
  for (let seed = 1; seed <= 40; seed++) {
    const r = secretsRun({ seed, tagging: false, dumpPolicy: 'exclude', imagePolicy: 'refuse', ramBytes: 8 << 20 });
    for (const p of KEY_PLACES) {
      const at = r.keyOffsets[p];
      assert.equal(Math.floor(at / 4096), Math.floor((at + r.keyBytes - 1) / 4096), `seed ${seed}: the ${p} key at ${at} (${r.keyBytes} bytes) crosses a page`);
      if (r.beforeFree.includes('image')) assert.equal(r.found[p].image, r.keyBytes, `seed ${seed}: the ${p} key in the image`);
    }
  }
});
