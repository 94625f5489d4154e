// Whether dist/ (the compiled library that `import 'kmem'` and bin/kmem.mjs load) is as new as src/:
// the build stamp setup.mjs writes holds the newest source file's mtime at the last build. Shared
// by scripts/setup.mjs (which rebuilds) and bin/kmem.mjs (which runs the setup first when a checkout's
// sources changed since, so that `npx kmem` never runs a stale build). Plain JavaScript, no
// dependencies: it runs before `npm ci`.
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The newest mtime (ms) of any file under `dir`. */
function newestMtime(dir) {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    newest = Math.max(newest, stat.isDirectory() ? newestMtime(path) : stat.mtimeMs);
  }
  return newest;
}

const stampPath = (root) => join(root, 'dist', '.kmem-build-stamp');

/** The newest source's mtime when dist/ is older than src/ (a build is due), or null when it is current. */
export function libraryBuildDue(root) {
  const newest = newestMtime(join(root, 'src'));
  const stamp = stampPath(root);
  return existsSync(stamp) && Number(readFileSync(stamp, 'utf8')) >= newest ? null : newest;
}

/** Records that dist/ was built from sources whose newest mtime is `newest`. */
export function markLibraryBuilt(root, newest) {
  writeFileSync(stampPath(root), String(newest));
}
