// The report as a reader sees it: a smoke report rendered by headless Chromium (Debian's chromium,
// which the setup step installs where it can) through scripts/screenshot-report.mjs, at 800 px and
// wide. The PNGs must have those widths, a page's height, and real content (not a blank page). Where
// there is no chromium the test is skipped with the reason, except with KMEM_REQUIRE_CHROMIUM=1
// (CI, .ci/run), where that is a failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { inflateSync } from 'node:zlib';

const ROOT = resolve(import.meta.dirname, '../..');
const CHROMIUM = process.env.KMEM_CHROMIUM ?? '/usr/bin/chromium';
const required = process.env.KMEM_REQUIRE_CHROMIUM === '1';
const skip = existsSync(CHROMIUM) || required ? false : `no Chromium at ${CHROMIUM} (the setup step says why it could not install one; KMEM_REQUIRE_CHROMIUM=1 makes this a failure)`;

interface Png {
  width: number;
  height: number;
  /** Distinct byte values in the decompressed scanlines: a blank page has a handful. */
  distinctBytes: number;
}

function readPng(path: string): Png {
  const bytes = readFileSync(path);
  assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${path}: a PNG`);
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  for (let at = 8; at < bytes.length; ) {
    const length = bytes.readUInt32BE(at);
    const type = bytes.toString('latin1', at + 4, at + 8);
    const data = bytes.subarray(at + 8, at + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
    } else if (type === 'IDAT') {
      idat.push(data);
    }
    at += 12 + length;
  }
  const seen = new Set<number>();
  for (const b of inflateSync(Buffer.concat(idat))) seen.add(b);
  return { width, height, distinctBytes: seen.size };
}

test('a headless Chromium screenshot of the report at 800 px and wide shows a page with content', { skip }, () => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: \`npm run setup\` installs Debian's chromium as root (KMEM_REQUIRE_CHROMIUM=1)`);
  const out = mkdtempSync(join(tmpdir(), 'kmem-shot-'));
  try {
    const report = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'report', '--smoke', '-q', '--only', 'message-queue,buddy-fragmentation', '--out', out], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(report.status, 0, report.stderr);
    const shot = spawnSync(process.execPath, ['scripts/screenshot-report.mjs', join(out, 'index.html'), out], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    assert.equal(shot.status, 0, `screenshot: ${shot.stderr}`);
    const paths = shot.stdout.trim().split('\n');
    assert.deepEqual(paths, [join(out, 'report-800.png'), join(out, 'report-1400.png')]);
    for (const [i, width] of [800, 1400].entries()) {
      const png = readPng(paths[i] ?? '');
      assert.equal(png.width, width, `${paths[i]}: width`);
      assert.ok(png.height > 1500, `${paths[i]}: a whole page (${png.height} px high)`);
      assert.ok(png.distinctBytes > 100, `${paths[i]}: content, not a blank page (${png.distinctBytes} distinct byte values)`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
