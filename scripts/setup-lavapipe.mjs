// Setup step: a WebGPU adapter for the GPU allocators (src/gpu) on a machine without a GPU.
//
// Dawn (npm `webgpu`) needs a Vulkan driver. Without a GPU that is Mesa's CPU driver, lavapipe, from
// Mesa >= 24: Debian 12's own Mesa (22.3) is too old for Dawn, so on Debian the package comes from
// `<codename>-backports` when the release's own candidate is older. Order of checks, cheapest first:
//   1. mesa-vulkan-drivers >= 24 already installed                      → nothing to do (~20 ms)
//   2. Dawn already finds an adapter (a real GPU with its own driver)   → nothing to do (~0.2 s)
//   3. Debian-family, root, apt works                                   → install it
// Anything else is said, with the reason and what will not run; it never fails the whole setup.
// The Debian mirror for backports is the one the machine's own apt sources use for its release, and
// only a Debian archive: a source for the release's `main` whose Release file apt read says
// `Origin: Debian` (`apt-cache policy`), never a third-party repository that happens to use the
// release's codename. No host name is written here. If the `apt-get update` or install that follows
// fails, the source file written is removed again, so apt is left as it was. Plain JavaScript with no
// dependencies, like setup.mjs.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const PACKAGE = 'mesa-vulkan-drivers';
const MIN_MAJOR = 24;
const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';
const WITHOUT = 'without a WebGPU adapter the GPU tests are skipped (CI, with KMEM_REQUIRE_GPU=1, fails them), and the gpu-warp-slab scenario and benchmarks report "not run"';

export function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });
  return { ok: result.status === 0, status: result.status, out: `${result.stdout ?? ''}${result.stderr ?? ''}`.trim(), error: result.error };
}

/** The installed version of a Debian package, or null. */
export function installedVersion(pkg) {
  const r = run('dpkg-query', ['-W', '-f=${db:Status-Abbrev} ${Version}', pkg]);
  if (!r.ok || !r.out.startsWith('ii')) return null;
  return r.out.split(/\s+/).pop() ?? null;
}

/** The major version of a Debian version string ("1:25.0.7-2~bpo12+1" → 25), or 0. */
export function majorOf(version) {
  const match = /^(?:\d+:)?(\d+)/.exec(version ?? '');
  return match === null ? 0 : Number(match[1]);
}

export function parseOsRelease(text) {
  const fields = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (match !== null) fields[match[1]] = match[2].replace(/^"(.*)"$/, '$1');
  }
  return { id: fields.ID ?? '', codename: fields.VERSION_CODENAME ?? '' };
}

/** Every enabled binary source of the apt configuration under `aptDir`: { uri, suites, components }. */
export function aptSources(aptDir) {
  const sources = [];
  const listDir = join(aptDir, 'sources.list.d');
  const names = existsSync(listDir) ? readdirSync(listDir).sort() : [];
  // deb822 files: stanzas separated by blank lines.
  for (const name of names.filter((n) => n.endsWith('.sources'))) {
    for (const stanza of readFileSync(join(listDir, name), 'utf8').split(/\n\s*\n/)) {
      const fields = {};
      for (const line of stanza.split('\n')) {
        if (/^\s*#/.test(line)) continue;
        const match = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
        if (match !== null) fields[match[1].toLowerCase()] = match[2].trim();
      }
      if ((fields.enabled ?? 'yes').toLowerCase() === 'no') continue;
      if (!(fields.types ?? '').split(/\s+/).includes('deb')) continue;
      const uri = (fields.uris ?? '').split(/\s+/)[0];
      const words = (name) => (fields[name] ?? '').split(/\s+/).filter(Boolean);
      if (uri) sources.push({ uri, suites: words('suites'), components: words('components') });
    }
  }
  // One-line files: deb [options] URI SUITE COMPONENTS...
  const lists = [join(aptDir, 'sources.list'), ...names.filter((n) => n.endsWith('.list')).map((n) => join(listDir, n))];
  for (const path of lists.filter((p) => existsSync(p))) {
    for (const raw of readFileSync(path, 'utf8').split('\n')) {
      const line = raw.replace(/\[[^\]]*\]/, ' ').trim();
      const words = line.split(/\s+/);
      if (words[0] === 'deb' && words.length >= 3) sources.push({ uri: words[1], suites: [words[2]], components: words.slice(3) });
    }
  }
  return sources;
}

/** A URI as apt may print it: no trailing slash, `scheme:///path` as `scheme:/path`. */
function sameUri(uri) {
  return uri.replace(/\/+$/, '').replace(/^([a-z][a-z0-9+.-]*):\/\/\//i, '$1:/');
}

/**
 * The URIs that serve Debian's own archive for `codename`, from `apt-cache policy` (no package)
 * output: a ` 500 URI codename/main arch Packages` line whose `release` line says o=Debian and
 * n=codename. That origin comes from the archive's Release file, which apt checked against its keys.
 */
export function debianArchives(policyText, codename) {
  const uris = new Set();
  const lines = policyText.split('\n');
  for (const [i, line] of lines.entries()) {
    const source = /^\s*-?\d+\s+(\S+)\s+(\S+)\/(\S+)\s+\S+\s+Packages\s*$/.exec(line);
    if (source === null || source[2] !== codename || source[3] !== 'main') continue;
    const release = /^\s*release\s+(.*)$/.exec(lines[i + 1] ?? '');
    if (release === null) continue;
    const fields = Object.fromEntries(release[1].split(',').map((field) => [field.slice(0, field.indexOf('=')), field.slice(field.indexOf('=') + 1)]));
    if (fields.o === 'Debian' && fields.n === codename) uris.add(sameUri(source[1]));
  }
  return uris;
}

/**
 * The Debian mirror the machine already uses for `codename` (e.g. 'bookworm'), or null: the first
 * enabled source for `codename` with component `main` whose URI `apt-cache policy` (`policyText`)
 * reports as Debian's archive (debianArchives). A third-party repository for the same codename is
 * never taken, whatever its components.
 */
export function deriveMirror(aptDir, codename, policyText) {
  const debian = debianArchives(policyText, codename);
  return aptSources(aptDir).find((s) => s.suites.includes(codename) && s.components.includes('main') && debian.has(sameUri(s.uri)))?.uri ?? null;
}

/**
 * Writes the apt source file `path` and runs `attempt` (update, install), which returns { ok, why }.
 * Unless it succeeds, the file is removed again, so a source that does not work never stays behind
 * to break every later `apt-get update` on the machine.
 */
export function withAptSource(path, text, attempt) {
  writeFileSync(path, text);
  let result = { ok: false, why: 'not run' };
  try {
    result = attempt();
  } finally {
    if (!result.ok) rmSync(path, { force: true });
  }
  return result;
}

/** Whether any enabled source already provides `suite`. */
export function providesSuite(aptDir, suite) {
  return aptSources(aptDir).some((s) => s.suites.includes(suite));
}

export function backportsSourcesText(mirror, suite, keyring) {
  return ['Types: deb', `URIs: ${mirror}`, `Suites: ${suite}`, 'Components: main', ...(keyring === null ? [] : [`Signed-By: ${keyring}`])].join('\n') + '\n';
}

/** Dawn's adapter, asked in a child process: its description, or null when it finds none. */
function dawnAdapter(root) {
  const script = `import { create } from 'webgpu';
const gpu = create([]);
const adapter = await gpu.requestAdapter();
console.log(adapter === null ? 'NONE' : 'ADAPTER ' + (adapter.info.description || adapter.info.vendor));`;
  const r = run(process.execPath, ['--input-type=module', '-e', script], { cwd: root, timeout: 60_000 });
  const match = /^ADAPTER (.*)$/m.exec(r.out);
  return match === null ? null : match[1];
}

export function candidateVersion(pkg) {
  const r = run('apt-cache', ['policy', pkg]);
  return /Candidate:\s*(\S+)/.exec(r.out)?.[1] ?? null;
}

/** Installs lavapipe when the machine has no WebGPU adapter and can; says why not otherwise. */
export function ensureLavapipe({ root, say }) {
  const installed = installedVersion(PACKAGE);
  if (installed !== null && majorOf(installed) >= MIN_MAJOR && installedVersion('libvulkan1') !== null) return;
  const adapter = dawnAdapter(root);
  if (adapter !== null) return;
  const cannot = (why, how) => say(`GPU: cannot install Mesa's lavapipe (a CPU Vulkan driver): ${why}; ${WITHOUT}.${how === undefined ? '' : ` ${how}`}`);
  if (process.platform !== 'linux') return cannot(`no WebGPU adapter, and this is ${process.platform}, not Linux`, 'Install your GPU vendor\'s Vulkan/Metal/D3D12 driver.');
  if (!existsSync('/etc/os-release') || installedVersion('dpkg') === null) return cannot('no WebGPU adapter, and this is not a Debian-family system', `Install Mesa >= ${MIN_MAJOR}'s Vulkan drivers (lavapipe) with the system's package manager.`);
  const os = parseOsRelease(readFileSync('/etc/os-release', 'utf8'));
  const suite = `${os.codename}-backports`;
  const how = `As root: add ${suite} to the apt sources, then \`apt-get install ${PACKAGE}/${suite}\`.`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return cannot(`not running as root (mesa-vulkan-drivers is ${installed ?? 'not installed'})`, how);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  say(`GPU: no WebGPU adapter; installing Mesa's lavapipe (${PACKAGE} >= ${MIN_MAJOR})`);
  const tail = (r) => r.out.split('\n').slice(-3).join(' ');
  const update = run('apt-get', ['update', '-qq'], { env, timeout: 300_000 });
  if (!update.ok) return cannot(`apt-get update failed (no network?): ${tail(update)}`, how);
  const install = (target) => {
    const r = run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', target], { env, timeout: 600_000 });
    return r.ok ? { ok: true, why: '' } : { ok: false, why: `apt-get install ${target} failed: ${tail(r)}` };
  };
  let result;
  if (majorOf(candidateVersion(PACKAGE)) >= MIN_MAJOR) {
    result = install(PACKAGE);
  } else {
    if (os.id !== 'debian' || os.codename === '') return cannot(`this ${os.id || 'system'}'s ${PACKAGE} is older than ${MIN_MAJOR} and kmem only knows Debian's backports`, `Install Mesa >= ${MIN_MAJOR}'s Vulkan drivers another way.`);
    // pkg/suite takes only Mesa's Vulkan drivers (and the libdrm they need) from backports; `-t` would
    // also upgrade the machine's whole Mesa GL stack.
    const target = `${PACKAGE}/${suite}`;
    if (providesSuite('/etc/apt', suite)) {
      result = install(target);
    } else {
      const mirror = deriveMirror('/etc/apt', os.codename, run('apt-cache', ['policy']).out);
      if (mirror === null) return cannot(`no apt source for ${os.codename} main whose Release file says Origin: Debian (apt-cache policy), to take the Debian mirror from`, how);
      const path = `/etc/apt/sources.list.d/${suite}.sources`;
      say(`GPU: adding ${path} (mirror ${mirror}: the Debian archive the apt sources already use for ${os.codename})`);
      result = withAptSource(path, backportsSourcesText(mirror, suite, existsSync(KEYRING) ? KEYRING : null), () => {
        const again = run('apt-get', ['update', '-qq'], { env, timeout: 300_000 });
        return again.ok ? install(target) : { ok: false, why: `apt-get update with ${suite} failed: ${tail(again)}` };
      });
      if (!result.ok) say(`GPU: removed ${path} again, so that apt is left as it was`);
    }
  }
  if (!result.ok) return cannot(result.why, how);
  const now = installedVersion(PACKAGE);
  if (now === null || majorOf(now) < MIN_MAJOR) return cannot(`after installing, ${PACKAGE} is ${now ?? 'missing'}`, how);
  say(`GPU: installed ${PACKAGE} ${now}; Dawn's adapter: ${dawnAdapter(root) ?? 'still none (check the Vulkan loader, libvulkan1)'}`);
}
