// The oldest Node.js kmem runs on, and the check the setup step makes first. 20.16.0 added
// process.getBuiltinModule, through which the kernel (src/mm/cpu-slots.ts) learns the host's CPU
// count and the worker's threadId without importing a node: module (the same code runs in
// browsers); before it, the default CPU slots would be 1 and every slot's holder anonymous.

/** The oldest Node.js version kmem supports (package.json "engines" says the same). */
export const MIN_NODE = '20.16.0';

/** Why `version` (as process.versions.node gives it) cannot run kmem, or null when it can. */
export function nodeVersionProblem(version) {
  const have = String(version).split('.').map((part) => Number.parseInt(part, 10));
  const need = MIN_NODE.split('.').map((part) => Number.parseInt(part, 10));
  if (have.length < 3 || have.some((part) => !Number.isInteger(part))) return `Node.js version '${version}' is not a version number`;
  for (let i = 0; i < 3; i++) {
    if (have[i] > need[i]) return null;
    if (have[i] < need[i]) {
      return `kmem needs Node.js ${MIN_NODE} or later (process.getBuiltinModule, for the host's CPU count and thread ids); this is ${version}`;
    }
  }
  return null;
}
