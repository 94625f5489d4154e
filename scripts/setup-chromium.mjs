// Setup step: a headless browser for the report's screenshot (scripts/screenshot-report.mjs and its
// test), Debian's own `chromium` package. Order of checks, cheapest first:
//   1. /usr/bin/chromium (or KMEM_CHROMIUM) exists                 → nothing to do
//   2. Linux, Debian-family, root, apt works                       → apt-get install chromium
// Anything else is said, with the reason and what will not run; it never fails the whole setup.
// chromium is in the release's own archive (main, with security updates), so no apt source is added:
// apt installs it from the mirrors the machine's sources already name. No host name is written here.
// Plain JavaScript with no dependencies, like setup.mjs; the apt helpers are setup-lavapipe.mjs's.
import { existsSync } from 'node:fs';
import { candidateVersion, installedVersion, run } from './setup-lavapipe.mjs';

const PACKAGE = 'chromium';
export const CHROMIUM_PATH = process.env.KMEM_CHROMIUM ?? '/usr/bin/chromium';
const WITHOUT = 'without it the report screenshot test is skipped (CI, with KMEM_REQUIRE_CHROMIUM=1, fails it)';

/** Installs Debian's chromium where it can; says why not otherwise. */
export function ensureChromium({ say }) {
  if (existsSync(CHROMIUM_PATH)) return;
  const cannot = (why, how) => say(`browser: cannot install ${PACKAGE}: ${why}; ${WITHOUT}.${how === undefined ? '' : ` ${how}`}`);
  const how = `As root: \`apt-get install ${PACKAGE}\`, or set KMEM_CHROMIUM to a Chromium binary.`;
  if (process.platform !== 'linux') return cannot(`this is ${process.platform}, not Linux`, 'Set KMEM_CHROMIUM to a Chromium or Chrome binary.');
  if (!existsSync('/etc/os-release') || installedVersion('dpkg') === null) return cannot('this is not a Debian-family system', 'Install Chromium with the system\'s package manager, or set KMEM_CHROMIUM.');
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return cannot('not running as root', how);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const tail = (r) => r.out.split('\n').slice(-3).join(' ');
  if (candidateVersion(PACKAGE) === null) {
    const update = run('apt-get', ['update', '-qq'], { env, timeout: 300_000 });
    if (!update.ok) return cannot(`apt-get update failed (no network?): ${tail(update)}`, how);
    if (candidateVersion(PACKAGE) === null) return cannot('no apt source offers it (apt-cache policy chromium: no candidate)', how);
  }
  say(`browser: installing Debian's ${PACKAGE} for the report screenshot`);
  const install = run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', PACKAGE], { env, timeout: 900_000 });
  if (!install.ok) return cannot(`apt-get install ${PACKAGE} failed: ${tail(install)}`, how);
  if (!existsSync(CHROMIUM_PATH)) return cannot(`after installing, there is no ${CHROMIUM_PATH}`, how);
  say(`browser: installed ${PACKAGE} ${installedVersion(PACKAGE) ?? ''}`.trimEnd());
}
