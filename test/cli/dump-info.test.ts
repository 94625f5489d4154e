import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Kernel } from '../../src/mm/kernel.ts';
import { writeDump } from '../../src/mm/dump/write.ts';
import { DumpLevel } from '../../src/mm/dump/types.ts';
import { MAP, PROT } from '../../src/mm/vm/types.ts';

const ROOT = resolve(import.meta.dirname, '../..');

function kmem(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('kmem dump-info lists the classes a dump contains and left out; a damaged file is a one-line error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kmem-dump-'));
  try {
    const kernel = Kernel.boot({ ramBytes: '16MiB', cpus: 1 });
    const mm = kernel.vm.createAddressSpace();
    const a = mm.mmap(0, 8 * 4096, PROT.READ | PROT.WRITE, MAP.PRIVATE | MAP.ANONYMOUS);
    mm.write(a, new Uint8Array(8 * 4096).fill(7));
    const bytes = writeDump(kernel, { dumpLevel: DumpLevel.Free | DumpLevel.Zero });
    writeFileSync(join(dir, 'dump'), bytes);
    const ok = kmem('dump-info', join(dir, 'dump'));
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /dump level 17 \(makedumpfile -d/);
    assert.match(ok.stdout, /^user\s+8\s+0\s+8$/m);
    assert.match(ok.stdout, /contains: kernel, user\nexcluded: zero, free/);
    writeFileSync(join(dir, 'short'), bytes.subarray(0, bytes.length - 4096));
    const short = kmem('dump-info', join(dir, 'short'));
    assert.equal(short.status, 1);
    assert.match(short.stderr, /^kmem: crash dump, offset \d+: the file is \d+ bytes: expected \d+ .*truncated/);
    const none = kmem('dump-info', join(dir, 'none'));
    assert.equal(none.status, 2, 'a file that is not there is refused before anything is read');
    assert.match(none.stderr, /^kmem: dump-info: cannot read \S+none \(no such file or directory\)\n$/);
    assert.equal(kmem('dump-info').status, 2);
    const help = kmem('dump-info', '--help');
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^usage: kmem dump-info FILE/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
