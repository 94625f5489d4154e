// The setup step's apt reading: the Debian mirror for backports comes from the machine's own apt
// sources (deb822 or one-line), only from one apt reports as Debian's archive, never from a host name
// written in kmem; a source file it writes does not outlive a failed update or install.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

function call(expression: string): unknown {
  const script = `import * as m from './scripts/setup-lavapipe.mjs'; console.log(JSON.stringify(${expression}));`;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout) as unknown;
}

/** `apt-cache policy` output for the fixture sources: what apt read from each archive's Release file. */
const POLICY = `Package files:
 100 /var/lib/dpkg/status
     release a=now
 500 https://download.test/linux/debian bookworm/stable amd64 Packages
     release o=Docker,a=bookworm,l=Docker CE,c=stable,b=amd64
     origin download.test
 500 https://vendor.test/debian bookworm/main amd64 Packages
     release o=Vendor,a=stable,n=bookworm,l=Vendor,c=main,b=amd64
     origin vendor.test
 500 http://security.test/debian-security bookworm-security/main amd64 Packages
     release v=12,o=Debian,a=oldstable-security,n=bookworm-security,l=Debian-Security,c=main,b=amd64
     origin security.test
 500 http://mirror.test/debian bookworm/main amd64 Packages
     release v=12.15,o=Debian,a=oldstable,n=bookworm,l=Debian,c=main,b=amd64
     origin mirror.test
Pinned packages:
`;

function withApt(body: (apt: string) => void): void {
  const apt = mkdtempSync(join(tmpdir(), 'kmem-apt-'));
  try {
    mkdirSync(join(apt, 'sources.list.d'));
    body(apt);
  } finally {
    rmSync(apt, { recursive: true, force: true });
  }
}

test('the backports mirror is the Debian archive the apt sources already use for the release', () => {
  withApt((apt) => {
    writeFileSync(
      join(apt, 'sources.list.d', 'debian.sources'),
      'Types: deb\n# a comment\nURIs: http://mirror.test/debian/\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://security.test/debian-security\nSuites: bookworm-security\nComponents: main\n',
    );
    writeFileSync(join(apt, 'sources.list.d', 'off.sources'), 'Types: deb\nURIs: http://off.test/\nSuites: bookworm-backports\nEnabled: no\n');
    const a = JSON.stringify(apt);
    const policy = JSON.stringify(POLICY);
    assert.deepEqual(call(`[...m.debianArchives(${policy}, 'bookworm')]`), ['http://mirror.test/debian'], 'o=Debian and n=bookworm for bookworm/main only');
    assert.equal(call(`m.deriveMirror(${a}, 'bookworm', ${policy})`), 'http://mirror.test/debian/', 'the URI as the sources spell it');
    assert.equal(call(`m.providesSuite(${a}, 'bookworm-backports')`), false, 'a disabled stanza does not count');
    assert.equal(call(`m.backportsSourcesText('http://mirror.test/debian', 'bookworm-backports', null)`), 'Types: deb\nURIs: http://mirror.test/debian\nSuites: bookworm-backports\nComponents: main\n');
    assert.equal(call(`m.deriveMirror(${a}, 'bookworm', '')`), null, 'without apt-cache policy confirming the origin, no mirror');
    rmSync(join(apt, 'sources.list.d'), { recursive: true });
    writeFileSync(join(apt, 'sources.list'), '# deb http://commented.test bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] http://mirror.test/debian bookworm main\ndeb http://bp.test/debian bookworm-backports main\n');
    assert.equal(call(`m.deriveMirror(${a}, 'bookworm', ${policy})`), 'http://mirror.test/debian');
    assert.equal(call(`m.providesSuite(${a}, 'bookworm-backports')`), true);
    assert.equal(call(`m.deriveMirror(${a}, 'trixie', ${policy})`), null);
  });
});

test('third-party repositories for the same codename are never taken as the Debian mirror, whatever comes first', () => {
  withApt((apt) => {
    // .sources files are read before sources.list: a vendor's repository for 'bookworm' comes first.
    writeFileSync(join(apt, 'sources.list.d', 'docker.sources'), 'Types: deb\nURIs: https://download.test/linux/debian\nSuites: bookworm\nComponents: stable\n');
    writeFileSync(join(apt, 'sources.list.d', 'vendor.sources'), 'Types: deb\nURIs: https://vendor.test/debian\nSuites: bookworm\nComponents: main\n');
    writeFileSync(join(apt, 'sources.list'), 'deb http://mirror.test/debian bookworm main\n');
    const a = JSON.stringify(apt);
    assert.equal(call(`m.deriveMirror(${a}, 'bookworm', ${JSON.stringify(POLICY)})`), 'http://mirror.test/debian');
    // Only the vendors' sources: none is Debian's, so there is no mirror to take.
    rmSync(join(apt, 'sources.list'));
    assert.equal(call(`m.deriveMirror(${a}, 'bookworm', ${JSON.stringify(POLICY)})`), null);
    // A Debian archive whose component is not main, and one apt lists under a file: URI form.
    writeFileSync(join(apt, 'sources.list'), 'deb http://mirror.test/debian bookworm contrib\ndeb mirror+file:///etc/apt/mirrors/debian.list bookworm main\n');
    const mirrored = POLICY.replace('http://mirror.test/debian bookworm', 'mirror+file:/etc/apt/mirrors/debian.list bookworm');
    assert.equal(call(`m.deriveMirror(${a}, 'bookworm', ${JSON.stringify(mirrored)})`), 'mirror+file:///etc/apt/mirrors/debian.list');
  });
});

test('the backports source file is removed again when the update or install after it fails, or throws', () => {
  withApt((apt) => {
    const path = join(apt, 'sources.list.d', 'bookworm-backports.sources');
    const p = JSON.stringify(path);
    assert.deepEqual(call(`m.withAptSource(${p}, 'Types: deb\\n', () => ({ ok: false, why: 'update failed' }))`), { ok: false, why: 'update failed' });
    assert.equal(existsSync(path), false, 'removed after a failure');
    assert.throws(() => call(`m.withAptSource(${p}, 'Types: deb\\n', () => { throw new Error('killed') })`), /killed/);
    assert.equal(existsSync(path), false, 'removed after a throw');
    assert.deepEqual(call(`m.withAptSource(${p}, 'Types: deb\\n', () => ({ ok: true, why: '' }))`), { ok: true, why: '' });
    assert.equal(readFileSync(path, 'utf8'), 'Types: deb\n', 'kept after success');
  });
});

test('Debian versions and os-release are read as apt writes them', () => {
  assert.deepEqual(call(`['25.0.7-2~bpo12+1', '1:22.3.6-1+deb12u1', '', null].map(m.majorOf)`), [25, 22, 0, 0]);
  assert.deepEqual(call(`m.parseOsRelease('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\\nID=debian\\nVERSION_CODENAME=bookworm\\n')`), { id: 'debian', codename: 'bookworm' });
});
