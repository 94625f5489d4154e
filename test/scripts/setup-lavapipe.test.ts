// The setup step's apt reading: the Debian mirror for backports comes from the machine's own apt
// sources (deb822 or one-line), never from a host name written in kmem.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

function call(expression: string): unknown {
  const script = `import * as m from './scripts/setup-lavapipe.mjs'; console.log(JSON.stringify(${expression}));`;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout) as unknown;
}

test('the backports mirror is the one the apt sources already use for the release', () => {
  const apt = mkdtempSync(join(tmpdir(), 'kmem-apt-'));
  try {
    mkdirSync(join(apt, 'sources.list.d'));
    writeFileSync(
      join(apt, 'sources.list.d', 'debian.sources'),
      'Types: deb\n# a comment\nURIs: http://mirror.test/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://security.test/debian-security\nSuites: bookworm-security\n',
    );
    writeFileSync(join(apt, 'sources.list.d', 'off.sources'), 'Types: deb\nURIs: http://off.test/\nSuites: bookworm-backports\nEnabled: no\n');
    const a = JSON.stringify(apt);
    assert.equal(call(`m.deriveMirror(${a}, 'bookworm')`), 'http://mirror.test/debian');
    assert.equal(call(`m.providesSuite(${a}, 'bookworm-backports')`), false, 'a disabled stanza does not count');
    assert.equal(call(`m.backportsSourcesText('http://mirror.test/debian', 'bookworm-backports', null)`), 'Types: deb\nURIs: http://mirror.test/debian\nSuites: bookworm-backports\nComponents: main\n');
    rmSync(join(apt, 'sources.list.d'), { recursive: true });
    writeFileSync(join(apt, 'sources.list'), '# deb http://commented.test bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] http://one-line.test/debian bookworm main\ndeb http://bp.test/debian bookworm-backports main\n');
    assert.equal(call(`m.deriveMirror(${a}, 'bookworm')`), 'http://one-line.test/debian');
    assert.equal(call(`m.providesSuite(${a}, 'bookworm-backports')`), true);
    assert.equal(call(`m.deriveMirror(${a}, 'trixie')`), null);
  } finally {
    rmSync(apt, { recursive: true, force: true });
  }
});

test('Debian versions and os-release are read as apt writes them', () => {
  assert.deepEqual(call(`['25.0.7-2~bpo12+1', '1:22.3.6-1+deb12u1', '', null].map(m.majorOf)`), [25, 22, 0, 0]);
  assert.deepEqual(call(`m.parseOsRelease('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\\nID=debian\\nVERSION_CODENAME=bookworm\\n')`), { id: 'debian', idLike: [''], codename: 'bookworm' });
});
