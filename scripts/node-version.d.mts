/** The oldest Node.js version kmem supports (package.json "engines" says the same). */
export const MIN_NODE: string;
/** Why `version` (as process.versions.node gives it) cannot run kmem, or null when it can. */
export function nodeVersionProblem(version: string): string | null;
