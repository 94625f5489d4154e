/**
 * The map of the sync subsystem: locks, the futex hash table and RCU, over the shared arena. Read
 * this before the other files of src/sync/ (lock-word.ts, the slab's and zones' own lock word, is
 * separate and older).
 *
 * The sync domain is one block of 2^order pages taken from the page allocator (GFP.KERNEL) when it
 * is created (SyncDomain.create), found by every worker through its physical address
 * (SyncDomain.attach). Word offsets below are relative to the domain's first word.
 *
 *   header     HEADER_WORDS: magic, CPUs, bucket count, lock capacity, lock count, region offsets,
 *              the RCU globals (QSBR grace-period counter, global epoch, stall timeout)
 *   cpu table  cpus × CPU_WORDS (one 64-byte line per CPU, so that CPUs never share a line):
 *              online state, the QSBR counter it last reported, its pinned epoch, its kfree_rcu
 *              block chains, one per flavour (head, tail, objects, bytes)
 *   stack q    cpus × Q_WORDS: each CPU's own waiter record (Linux's futex_q, which lives on the
 *              waiting task's stack: a CPU waits on one lock at a time, so one record is enough)
 *   buckets    nrBuckets × BUCKET_WORDS: the futex hash table (bucket spinlock, FIFO list head and
 *              tail of waiter records as word indices, waiter count); nrBuckets = roundup_pow_of_two(256 · cpus)
 *              as Linux's futex_init() (kernel/futex/core.c)
 *   locks      maxLocks × LOCK_WORDS: one record per named lock (kind, lock word(s), owner,
 *              waiter placement, recoveries, name, float64 contention statistics)
 *
 * A waiter record (futex_q, Q_WORDS words) is the CPU's slot in 'stack q' or an object of the
 * slab cache 'futex_q' (placement 'slab'): state (idle / waiting / woken), key (the lock word's
 * word index in RAM), next (the next record's word index, 0 = end), cpu, lock record index.
 *
 * A kfree_rcu block is one page from the page allocator: [0] next block paddr, [1] count,
 * [2] grace-period cookie (0 while the block is open), [3] kind (objects to kfree, or page blocks
 * pfn | order << 24 to give back to the buddy allocator), then KFREE_BLOCK_SLOTS entries.
 *
 * Invariants (checked by SyncDomain.validate()):
 *   Σ bucket counts = number of records in waiting state;   every listed record is waiting, its key
 *   hashes to the bucket it is listed in;   a record is in at most one bucket list
 *   lock word (mutex) ∈ {0, 1, 2};   owner ≠ 0 ⇒ word ≠ 0 (held);   spinlock word = owner (cpu + 1)
 *   an offline CPU's QSBR counter is 0 and its epoch word is 0 (it holds up no grace period)
 *   kfree chain objects = Σ block counts over the chain;   QSBR done ≤ QSBR counter
 *
 * Lock order (outer first): a mutex or spinlock of the caller → a futex bucket lock. Bucket locks
 * are leaves: nothing is taken while one is held, and no two are held at once. RCU takes no lock
 * on its read side; a CPU's kfree chain is touched by that CPU alone (or by offlineCpu() after it
 * has gone).
 *
 * Host-side state: each worker's SyncDomain wrapper (views, its CPU number), the callRcu callback
 * queue (JavaScript functions cannot live in the arena: they die with their worker, and nothing in
 * the arena points at them, so losing them loses no memory — use kfreeRcu for arena memory, whose
 * blocks are in the arena and are adopted by offlineCpu()), and the offline hook list.
 */

export const SYNC_MAGIC = 0x434e5953; // 'SYNC' little-endian
export const CACHE_LINE_BYTES = 64;

/** Header words. */
export const HEADER_WORDS = 64;
export const S_MAGIC = 0;
export const S_CPUS = 1;
export const S_NR_BUCKETS = 2;
export const S_MAX_LOCKS = 3;
export const S_NR_LOCKS = 4;
export const S_CPU_TABLE = 5;
export const S_STACK_Q = 6;
export const S_BUCKETS = 7;
export const S_LOCKS = 8;
export const S_ORDER = 9;
/** Lock protecting lock-table registration (a spinlock word: 0 free, else cpu + 1). */
export const S_TABLE_LOCK = 10;
/** QSBR: the grace-period counter (liburcu's rcu_gp.ctr); starts at 1, bumped to start a grace period. */
export const S_QSBR_CTR = 16;
/** QSBR: the highest counter value every online CPU has been seen to reach. */
export const S_QSBR_DONE = 17;
/** Epoch: the global epoch (crossbeam-epoch's global epoch); starts at 1. */
export const S_EPOCH = 18;
/** RCU stall timeout in milliseconds (Linux's rcu_cpu_stall_timeout, in seconds there: 21 by default). */
export const S_STALL_MS = 19;

/** Per-CPU words (one cache line). */
export const CPU_WORDS = CACHE_LINE_BYTES / 4;
/** 0 never attached, 1 online, 2 offline (offlined after being online). */
export const CPU_STATE = 0;
/** QSBR: the counter value this CPU last reported a quiescent state at; 0 while offline. */
export const CPU_QSBR = 1;
/** Epoch: (epoch << 1) | 1 while pinned, 0 while not; bit 31 set by an updater asks the pinned reader to re-read the global epoch (rcu-epoch.ts). */
export const CPU_EPOCH = 2;
/** Nesting depth of RCU read sections (checked, not needed by the grace period). */
export const CPU_NESTING = 3;
/** kfree_rcu chains, one per flavour, each KFREE_CHAIN_WORDS from its base. */
export const CPU_KFREE_QSBR = 4;
export const CPU_KFREE_EPOCH = 8;
/** Chain fields: oldest block paddr, newest block paddr, objects and bytes in the chain. */
export const KC_HEAD = 0;
export const KC_TAIL = 1;
export const KC_OBJECTS = 2;
export const KC_BYTES = 3;
export const KFREE_CHAIN_WORDS = 4;

export const CpuState = { Never: 0, Online: 1, Offline: 2 } as const;

/** Waiter record (futex_q) words. */
export const Q_WORDS = 8;
export const Q_BYTES = Q_WORDS * 4;
export const Q_STATE = 0;
export const Q_KEY = 1;
export const Q_NEXT = 2;
export const Q_CPU = 3;
export const Q_LOCK = 4;
export const QState = { Idle: 0, Waiting: 1, Woken: 2 } as const;

/** Futex hash bucket words. */
export const BUCKET_WORDS = 4;
export const B_LOCK = 0;
export const B_HEAD = 1;
export const B_TAIL = 2;
export const B_COUNT = 3;
/** Linux's futex_init(): roundup_pow_of_two(256 * num_possible_cpus()) buckets. */
export const FUTEX_BUCKETS_PER_CPU = 256;

/** Lock record words. */
export const LOCK_WORDS = 32;
export const L_KIND = 0;
/** The lock word: mutex 0/1/2 (Drepper), spinlock 0 or owner cpu + 1. */
export const L_WORD = 1;
/** Owner cpu + 1 (0: none); for a spinlock the same as L_WORD. */
export const L_OWNER = 2;
export const L_PLACEMENT = 3;
/** Times the lock was recovered from a CPU that went offline holding it. */
export const L_RECOVERIES = 4;
/** The CPU (+1) that last died holding it. */
export const L_DEAD_OWNER = 5;
/** Waiters asleep on it now, and the most at once. */
export const L_SLEEPERS = 6;
export const L_SLEEPERS_MAX = 7;
export const L_NAME = 8;
export const LOCK_NAME_BYTES = 32;
/** float64 statistics from this word (LockStat order). */
export const L_STATS = 16;
export const LockKind = { Free: 0, Spin: 1, Mutex: 2 } as const;

export const LockStat = {
  acquisitions: 0,
  contended: 1,
  spins: 2,
  sleeps: 3,
  waitMs: 4,
  waitMsMax: 5,
  /** Of waitMs, the time asleep in the futex table (the rest was spent spinning and queueing). */
  sleepMs: 6,
} as const;
export type LockStatName = keyof typeof LockStat;
export const LOCK_STAT_COUNT = 7;

/**
 * Where a blocked waiter's record lives: 'stack' is Linux's futex_q on the waiter's stack (here a
 * fixed per-CPU record: no allocation, no extra memory while waiting); 'slab' allocates one per
 * wait from the slab cache 'futex_q' (the seed's model: kernel memory grows with the waiters).
 */
export type WaiterPlacement = 'stack' | 'slab';
export const PLACEMENTS: readonly WaiterPlacement[] = ['stack', 'slab'];

/** kfree_rcu block (one page). */
export const KB_NEXT = 0;
export const KB_COUNT = 1;
/** The grace-period cookie the block waits for; 0 while the block is open (still filling). */
export const KB_COOKIE = 2;
/** What the block's entries are: object addresses to kfree(), or page blocks (pfn | order << 24) to free. */
export const KB_KIND = 3;
export const KB_HEADER_WORDS = 4;
export const KfreeKind = { Objects: 0, Pages: 1 } as const;
/** Addresses per page-sized block: (4096 − 16) / 4. Linux: KVFREE_BULK_MAX_ENTRIES = (PAGE_SIZE − its block header) / sizeof(void *), about 500 with 8-byte pointers. */
export const KFREE_BLOCK_SLOTS = 1024 - KB_HEADER_WORDS;
