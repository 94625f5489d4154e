// Power cuts at random points — mid-program, mid-copy-back, mid-erase, mid-GC — on images in memory
// and in files: every acknowledged write survives, nothing older comes back (test/fuzz/flash-crash.ts).
// The long sweep (≥ 1000 cuts per store and image kind): npm run flash:crash-sweep.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crashSweep } from '../fuzz/flash-crash.ts';

test('page store: 240 power cuts (200 in memory, 40 on file images), no acknowledged write lost', () => {
  for (const [image, cuts, seed] of [['memory', 200, 1], ['file', 40, 2]] as const) {
    const r = crashSweep({ seed, cuts, store: 'page', image });
    assert.equal(r.cuts, cuts);
    assert.equal(r.lost + r.stale, 0, JSON.stringify(r));
    assert.ok(r.acknowledgedChecked > 0);
    assert.ok((r.interrupted.erase ?? 0) > 0 && (r.interrupted['copy-back'] ?? 0) > 0 && r.duringGc > 0, `cuts hit erases and GC: ${JSON.stringify(r)}`);
  }
});

test('object store: 120 power cuts, no acknowledged put or delete lost', () => {
  for (const [image, cuts, seed] of [['memory', 100, 3], ['file', 20, 4]] as const) {
    const r = crashSweep({ seed, cuts, store: 'object', image });
    assert.equal(r.lost + r.stale, 0, JSON.stringify(r));
    assert.ok(r.acknowledgedChecked > 0);
  }
});
