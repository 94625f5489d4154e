// What the mid-operation kill test's workers allocate (kill-worker.ts), shared with the test that
// frees what they held.
export const KILL_KINDS = ['plain', 'ctor', 'redzone', 'kmalloc', 'kmalloc', 'page0', 'page0', 'page1', 'page2'] as const;
export type KillKind = (typeof KILL_KINDS)[number];
/** The owner tag of the workers' pages. */
export const KILL_OWNER = 7;
