/** The newest source's mtime (ms) when dist/ is older than src/ (a build is due), or null when it is current. */
export function libraryBuildDue(root: string): number | null;
/** Records that dist/ was built from sources whose newest mtime is `newest`. */
export function markLibraryBuilt(root: string, newest: number): void;
