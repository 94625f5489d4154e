// Sequence numbers past 2^32: the spare area holds them as two 32-bit words, and GC writes a run's
// numbers word by word (ftl.ts, cleanBlock), the high word stepping at the copy where the low word
// wraps. A copy numbered wrong would lose to an older version of its page at mount, so after a
// remount every page must read back its last write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PageFtl } from '../../src/flash/ftl.ts';
import { NandDevice } from '../../src/machine/nand.ts';
import { Prng } from '../../src/util/prng.ts';

const GEOMETRY = { blocks: 24, pagesPerBlock: 16, pageBytes: 32, spareBytes: 16 };
const LOGICAL_PAGES = 280;

test('sequence numbers that cross 2^32 during GC runs: after a remount every page reads its last write', () => {
  let straddled = 0;
  const data = new Uint8Array(8);
  const words = new Uint32Array(data.buffer);
  const out = new Uint8Array(8);
  for (let before = 1; before <= 40; before++) {
    const device = NandDevice.create({ geometry: GEOMETRY });
    const ftl = PageFtl.format(device, { logicalPages: LOGICAL_PAGES });
    // Each page's data: its lpn and how many times it was written.
    const version = new Uint32Array(LOGICAL_PAGES);
    const put = (l: number): void => {
      words[0] = l;
      words[1] = ++version[l]!;
      ftl.write(l, data);
    };
    for (let l = 0; l < LOGICAL_PAGES; l++) put(l);
    const prng = new Prng(before);
    // Warmed up (GC running), then the clock (the next sequence number) moved forward to `before`
    // programs short of 2^32.
    for (let i = 0; i < 1000; i++) put(prng.int(LOGICAL_PAGES));
    (ftl as unknown as { seq: number }).seq = 2 ** 32 - before;
    let copiesBefore = ftl.gcCopies;
    // Until just past 2^32, so the copies numbered across it are still the pages' last versions.
    for (let i = 0; i < 1000 && (ftl as unknown as { seq: number }).seq < 2 ** 32 + 4; i++) {
      put(prng.int(LOGICAL_PAGES));
      // The write's GC copies (if any) took the numbers before its own program's, the last one.
      const next = (ftl as unknown as { seq: number }).seq;
      const copies = ftl.gcCopies - copiesBefore;
      if (copies > 0 && next - 1 - copies < 2 ** 32 && next - 2 >= 2 ** 32) straddled++;
      copiesBefore = ftl.gcCopies;
    }
    ftl.validate();
    const mounted = PageFtl.mount(NandDevice.over(device.buffer), { logicalPages: LOGICAL_PAGES });
    mounted.validate();
    for (let l = 0; l < LOGICAL_PAGES; l++) {
      assert.ok(mounted.read(l, out), `lpn ${l} reads`);
      const got = new Uint32Array(out.buffer);
      assert.deepEqual([got[0], got[1]], [l, version[l]], `lpn ${l}, clock started ${before} short of 2^32`);
    }
  }
  assert.ok(straddled >= 5, `GC copies on both sides of 2^32 in ${straddled} of 40 runs`);
});

test('GC copies carry their stream in the spare tag, victim after victim of two streams', () => {
  // cleanBlock keeps the tag and the high sequence word in its scratch from one victim to the next
  // and writes them again only when they change: copies of a victim of the other stream must not
  // keep the last one's tag (mount assigns blocks to streams by it).
  const device = NandDevice.create({ geometry: { blocks: 32, pagesPerBlock: 16, pageBytes: 32, spareBytes: 16 }, storePayload: false });
  const logicalPages = 300;
  const ftl = PageFtl.format(device, { logicalPages, hostStreams: 2 });
  const prng = new Prng(5);
  for (let l = 0; l < logicalPages; l++) ftl.write(l, null, l & 1);
  for (let i = 0; i < 20_000; i++) {
    const l = prng.int(logicalPages);
    ftl.write(l, null, l % 3 === 0 ? 1 : 0);
  }
  assert.ok(ftl.gcCopies > 1000, `GC copied ${ftl.gcCopies} pages`);
  ftl.validate();
  const words = device.spareWords;
  const ppb = device.pagesPerBlock;
  const seen = [0, 0];
  for (let ppn = 0; ppn < device.pages; ppn++) {
    if ((ftl.p2l[ppn] as number) === -1) continue;
    const b = Math.floor(ppn / ppb);
    const stream = (words[ppn * 4] as number) & 0xff;
    assert.equal(stream, ftl.table.stream[b], `page ${ppn}: the tag's stream and its block's`);
    seen[stream]!++;
  }
  assert.ok(seen[0]! > 0 && seen[1]! > 0, `pages of both streams: ${seen.join(', ')}`);
});
