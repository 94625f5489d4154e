import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KEY_PLACES, OUTPUTS, keyBytesFound, secretsRun, secretsSweep } from '../../src/lab/workloads/secrets-run.ts';
import { OVERFLOW_PLACES, overflowTable } from '../../src/lab/workloads/secrets-overflow.ts';

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
