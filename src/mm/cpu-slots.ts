/**
 * CPU slots: which thread is which "CPU" of the kernel (Linux's CPU hotplug state, cpu_online_mask,
 * reduced to what a kernel over shared memory needs). Every thread that allocates (the booting
 * one included) holds one slot while it runs; per-CPU structures (the slab allocator's magazines,
 * the page allocator's per-CPU page lists) are indexed by slot.
 *
 * Region 'cpus' (memblock, at boot), 32-bit words:
 *   [0] worker slots (the `cpus` boot option)   [1] possible CPUs (nr_cpu_ids, `possibleCpus`)
 *   [2] epoch counter: bumped at every claim (atomic)
 *   [HEADER_WORDS + cpu · SLOT_WORDS ..] one slot:
 *       S_TOKEN   0 free; OFFLINING while offlineCpu() flushes it; else the holder's token
 *       S_THREAD  the holder's worker threadId (0 for a main thread, −1 when unknown)
 *       S_NONCE   a random number drawn once per JavaScript realm (thread) that claims;
 *                 0 again before the slot is freed
 *       S_CLAIMS  how many times the slot was claimed
 *
 * A token names one claim of one slot: (epoch mod 2^19) << 11 | (cpu + 1), nonzero, below 2^30, so
 * that a lock word can hold it shifted left by one (lock-word.ts). Epochs start at 1; token 1
 * (epoch 0, CPU 0) is ANON_TOKEN, the holder name of a thread that has no slot, never dead.
 *
 * Invariants: a slot's token is 0, OFFLINING, or a token whose low 11 bits are its cpu + 1; a
 * holder whose token is no longer in its slot is gone (offlined, or a copy resumed elsewhere), so a
 * lock it held may be taken over (isDead()).
 *
 * Host-side state: this thread's claimed slot and token (a copy of the arena word, rebuilt by
 * claiming again), and the offline hooks (code: each subsystem registers its own at attach).
 *
 * Locking: a claim is one compareExchange 0 → token; offlining another CPU is one
 * compareExchange token → OFFLINING, then the hooks, then a store of 0. The hooks of another CPU
 * run without waiting (withoutWaiting, lock-word.ts): one that meets a lock a live holder keeps
 * leaves the slot OFFLINING and is retried later, so they are restartable (detaching this thread's own
 * slot runs the hooks with the token still in place, then stores 0). Offlining a slot whose holder still runs is misuse
 * (as in Linux, a CPU is dead before slub_cpu_dead runs): call it after the worker exited.
 */
import type { Ram } from '../machine/ram.ts';
import { LockBusyError, withoutWaiting, type LockOwner } from '../sync/lock-word.ts';
import { ArgumentError, KmemError } from '../util/errors.ts';
import { CpuInUseError } from './errors.ts';
import type { Memblock } from './memblock.ts';

const HEADER_WORDS = 16;
const R_SLOTS = 0;
const R_POSSIBLE = 1;
const R_EPOCH = 2;
const SLOT_WORDS = 4;
const S_TOKEN = 0;
const S_THREAD = 1;
const S_NONCE = 2;
const S_CLAIMS = 3;
const OFFLINING = -1;
const CPU_BITS = 11;
const CPU_MASK = (1 << CPU_BITS) - 1;
const EPOCH_MASK = (1 << 19) - 1;
/** Delay of the timer that retries offlines left waiting for a busy lock. */
const DEFERRED_RETRY_MS = 10;

/** Worker slots are at most this many (the token keeps 11 bits for cpu + 1). */
export const MAX_CPU_SLOTS = 1024;
/** nr_cpu_ids at most (Linux's CONFIG_NR_CPUS maximum on x86-64 is 8192). */
export const MAX_POSSIBLE_CPUS = 8192;
/** The token of a thread that holds no slot. */
export const ANON_TOKEN = 1;

/** Every slot is held: the message names the boot option to raise. */
export class CpuSlotsError extends KmemError {
  override name = 'CpuSlotsError';
}

/**
 * This thread's (JavaScript realm's) mark in the slots it claims, through any kernel handle
 * (S_NONCE): a slot that carries it is used by no other thread, and calls on one thread never
 * interleave, so this thread may flush its per-CPU state between two operations (heldElsewhere()).
 * A slot's S_NONCE is set to 0 before its token is (freeSlot), so a slot another thread claims
 * reads as not this thread's in the moment before that thread writes its own: the safe answer.
 * The mark is in the arena, so it says nothing about another arena whose slots hold the same token
 * values (every arena's epochs start at 1).
 */
const realmNonce = (Math.floor(Math.random() * 0x7ffffffe) + 1) | 0;

/** This thread's worker threadId where the host says (Node), else −1. */
function hostThreadId(): number {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const threads = proc?.getBuiltinModule?.('node:worker_threads') as { threadId?: number } | undefined;
  return threads?.threadId ?? -1;
}

/** The CPU slots a kernel boots with when not told: the host's CPUs, at most MAX_CPU_SLOTS. */
export function defaultCpuSlots(): number {
  return Math.min(hostCpus(), MAX_CPU_SLOTS);
}

/** The host's CPU count (os.availableParallelism(), or navigator.hardwareConcurrency), at least 1. */
export function hostCpus(): number {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const os = proc?.getBuiltinModule?.('node:os') as { availableParallelism?: () => number } | undefined;
  const fromOs = os?.availableParallelism?.();
  if (fromOs !== undefined && fromOs >= 1) return fromOs;
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  return Math.max(1, nav?.hardwareConcurrency ?? 1);
}

export interface CpuSlotInfo {
  cpu: number;
  /** Held by a thread, or being taken offline. */
  online: boolean;
  /** Marked offline, its teardown not done yet (pendingOfflines()). */
  offlining: boolean;
  epoch: number;
  threadId: number;
  claims: number;
}

export class CpuSlots implements LockOwner {
  readonly nrSlots: number;
  readonly possibleCpus: number;
  private readonly w: Int32Array;
  private readonly base: number;
  private cpu = -1;
  private myToken = ANON_TOKEN;
  private readonly hooks: ((cpu: number) => void)[] = [];
  /** Slots this thread marked OFFLINING whose hooks met a lock held by a live holder: retried later. */
  private readonly deferred: number[] = [];
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  /** Told when a lock of an offlined holder is taken over (LockOwner.recovered). */
  recovered: ((lockIndex: number, token: number) => void) | undefined;

  private constructor(ram: Ram, paddr: number) {
    this.w = new Int32Array(ram.buffer);
    this.base = paddr >>> 2;
    this.nrSlots = this.w[this.base + R_SLOTS] as number;
    this.possibleCpus = this.w[this.base + R_POSSIBLE] as number;
  }

  /** Boot: reserves and formats the region for `cpus` slots. */
  static boot(ram: Ram, memblock: Memblock, cpus: number, possibleCpus: number): CpuSlots {
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > MAX_CPU_SLOTS) {
      throw new ArgumentError(`cpus ${cpus}: expected an integer in [1, ${MAX_CPU_SLOTS}] (every thread that allocates, the booting one included)`);
    }
    if (!Number.isInteger(possibleCpus) || possibleCpus < cpus || possibleCpus > MAX_POSSIBLE_CPUS) {
      throw new ArgumentError(`possibleCpus ${possibleCpus}: expected an integer in [cpus = ${cpus}, ${MAX_POSSIBLE_CPUS}]`);
    }
    const paddr = memblock.alloc('cpus', (HEADER_WORDS + cpus * SLOT_WORDS) * 4);
    const w = new Int32Array(ram.buffer);
    const base = paddr >>> 2;
    w.fill(0, base, base + HEADER_WORDS + cpus * SLOT_WORDS);
    w[base + R_SLOTS] = cpus;
    w[base + R_POSSIBLE] = possibleCpus;
    return new CpuSlots(ram, paddr);
  }

  /** A thread's view of the slots of a booted arena. Writes nothing. */
  static attach(ram: Ram, paddr: number): CpuSlots {
    return new CpuSlots(ram, paddr);
  }

  /** This thread's slot, or −1 if it holds none yet. */
  get claimed(): number {
    return this.cpu;
  }

  /** This thread's slot, claimed on first use. */
  thisCpu(): number {
    if (this.cpu < 0) this.claim();
    return this.cpu;
  }

  /** Registers a per-CPU teardown (Linux's cpuhp "dead" callbacks): runs at offlineCpu() and detach(). */
  onCpuOffline(fn: (cpu: number) => void): void {
    this.hooks.push(fn);
  }

  /**
   * Takes CPU `cpu` offline: its per-CPU state goes back through the hooks, then the slot is free.
   * Its holder must have stopped (a worker that exited, a process whose copy was resumed). With
   * `epoch`, only the claim of that epoch is offlined: a slot released and claimed again since by
   * a live thread is left alone. Whether it offlined the slot.
   */
  offline(cpu: number, epoch?: number): boolean {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.nrSlots) {
      throw new ArgumentError(`cpu ${cpu}: expected a CPU slot in [0, ${this.nrSlots})`);
    }
    if (this.deferred.includes(cpu) || !this.markOffline(cpu, epoch)) {
      this.finishDeferred();
      return false;
    }
    if (cpu === this.cpu) {
      this.finishOffline(cpu);
    } else {
      this.deferred.push(cpu);
    }
    this.finishDeferred();
    return true;
  }

  /**
   * Slots marked offline whose teardown waits for a lock that a live holder keeps (retried at the
   * next offline() and by a timer). Typically that holder is a worker that died too, whose own
   * 'exit' is still queued: offlining it takes its locks over and the waiting teardown completes.
   */
  pendingOfflines(): readonly number[] {
    return this.deferred;
  }

  /**
   * Runs the hooks of every deferred slot, each without waiting on a busy lock (a LockBusyError
   * leaves it deferred, the hooks being restartable), until a pass completes none. Any other error
   * frees the slot (as a failed offline always did) and is thrown.
   */
  private finishDeferred(): void {
    for (let pass = 0; pass <= this.deferred.length && this.deferred.length > 0; pass++) {
      let done = 0;
      for (const cpu of [...this.deferred]) {
        try {
          withoutWaiting(() => this.runHooks(cpu));
        } catch (error) {
          if (error instanceof LockBusyError) continue;
          this.deferred.splice(this.deferred.indexOf(cpu), 1);
          this.freeSlot(cpu);
          throw error;
        }
        this.deferred.splice(this.deferred.indexOf(cpu), 1);
        this.freeSlot(cpu);
        done++;
      }
      if (done === 0) break;
    }
    this.scheduleRetry();
  }

  /** While some offline is deferred, a timer retries it (unref'd: it keeps no process alive). */
  private scheduleRetry(): void {
    if (this.deferred.length === 0 || this.retryTimer !== null || typeof setTimeout !== 'function') return;
    const timer = setTimeout(() => {
      this.retryTimer = null;
      this.finishDeferred();
    }, DEFERRED_RETRY_MS);
    (timer as { unref?: () => void }).unref?.();
    this.retryTimer = timer;
  }

  /**
   * Who holds slot `cpu` when a thread other than this one does ("thread 3, epoch 5"); null when
   * the slot is free, being taken offline, or held in this thread (by any kernel handle). What a
   * call that flushes another CPU's per-CPU state asks first: that thread may be using it now.
   */
  heldElsewhere(cpu: number): string | null {
    const slot = this.slotWord(cpu);
    const token = Atomics.load(this.w, slot + S_TOKEN);
    if (token === 0 || token === OFFLINING || Atomics.load(this.w, slot + S_NONCE) === realmNonce) return null;
    const thread = this.w[slot + S_THREAD] as number;
    return `${thread < 0 ? 'another thread' : `thread ${thread}`} (epoch ${token >>> CPU_BITS})`;
  }

  /**
   * Before `call` empties CPU `cpu`'s per-CPU state (`what`: its page lists, its magazines):
   * CpuInUseError when another thread holds the slot (heldElsewhere), which may be half-way
   * through a pop or a push there. Nothing changes.
   */
  checkFlushable(cpu: number, call: string, what: string): void {
    const holder = this.heldElsewhere(cpu);
    if (holder !== null) throw new CpuInUseError(cpu, holder, call, what);
  }

  /** This thread's claim: its slot and the claim's epoch (−1, 0 when it holds none). */
  get claimInfo(): { cpu: number; epoch: number } {
    return { cpu: this.cpu, epoch: this.cpu < 0 ? 0 : this.myToken >>> CPU_BITS };
  }

  /**
   * Offlines online slots not held by this Kernel (resuming a copy of another process's arena):
   * every one, or with `foreignOnly` those claimed by other threads (realms) alone. All are marked
   * first, so that a lock any of them held is free to take over while the others are flushed.
   */
  offlineOthers(foreignOnly = false): number[] {
    const marked: number[] = [];
    for (let cpu = 0; cpu < this.nrSlots; cpu++) {
      const slot = this.slotWord(cpu);
      if (cpu === this.cpu || (foreignOnly && Atomics.load(this.w, slot + S_NONCE) === realmNonce)) continue;
      if (this.markOffline(cpu)) marked.push(cpu);
    }
    for (const cpu of marked) this.finishOffline(cpu);
    return marked;
  }

  /** First half of offline(): false if the slot is free already (or claimed again since `epoch`). */
  private markOffline(cpu: number, epoch?: number): boolean {
    const slot = this.slotWord(cpu);
    const token = Atomics.load(this.w, slot + S_TOKEN);
    if (token === 0 || (epoch !== undefined && token >>> CPU_BITS !== epoch)) return false;
    // Another CPU's holder is gone: OFFLINING makes its locks free to take over while the hooks
    // run. This thread's own slot (detach) stays its own until the end: its locks are live.
    const own = cpu === this.cpu;
    if (token === OFFLINING || (!own && Atomics.compareExchange(this.w, slot + S_TOKEN, token, OFFLINING) !== token)) {
      throw new CpuSlotsError(`cpu ${cpu}: another thread is taking it offline now`);
    }
    return true;
  }

  private runHooks(cpu: number): void {
    for (const hook of this.hooks) hook(cpu);
  }

  /** Second half: the hooks, then the slot is free. */
  private finishOffline(cpu: number): void {
    try {
      this.runHooks(cpu);
    } finally {
      if (cpu === this.cpu) {
        this.cpu = -1;
        this.myToken = ANON_TOKEN;
      }
      this.freeSlot(cpu);
    }
  }

  /** The slot is free: its realm mark first, then its token (see realmNonce). */
  private freeSlot(cpu: number): void {
    Atomics.store(this.w, this.slotWord(cpu) + S_NONCE, 0);
    Atomics.store(this.w, this.slotWord(cpu) + S_TOKEN, 0);
  }

  /** The slots, as JSON-ready rows. */
  slots(): CpuSlotInfo[] {
    const out: CpuSlotInfo[] = [];
    for (let cpu = 0; cpu < this.nrSlots; cpu++) {
      const slot = this.slotWord(cpu);
      const token = Atomics.load(this.w, slot + S_TOKEN);
      out.push({
        cpu,
        online: token !== 0,
        offlining: token === OFFLINING,
        epoch: token > 0 ? token >>> CPU_BITS : 0,
        threadId: this.w[slot + S_THREAD] as number,
        claims: this.w[slot + S_CLAIMS] as number,
      });
    }
    return out;
  }

  // ---- LockOwner (lock-word.ts) ----

  token(): number {
    return this.myToken;
  }

  isDead(token: number): boolean {
    const cpu = (token & CPU_MASK) - 1;
    if (token === ANON_TOKEN || cpu < 0 || cpu >= this.nrSlots) return false;
    return Atomics.load(this.w, this.slotWord(cpu) + S_TOKEN) !== token;
  }

  describe(token: number): string {
    if (token === ANON_TOKEN) return 'a thread without a CPU slot';
    const cpu = (token & CPU_MASK) - 1;
    const state = this.isDead(token) ? 'offlined since' : 'online';
    return `CPU ${cpu} (epoch ${token >>> CPU_BITS}, ${state})`;
  }

  // ---- internals ----

  private slotWord(cpu: number): number {
    return this.base + HEADER_WORDS + cpu * SLOT_WORDS;
  }

  private claim(): void {
    const epoch = ((Atomics.add(this.w, this.base + R_EPOCH, 1) + 1) & EPOCH_MASK) || 1;
    for (let cpu = 0; cpu < this.nrSlots; cpu++) {
      const slot = this.slotWord(cpu);
      const token = (epoch << CPU_BITS) | (cpu + 1);
      if (Atomics.compareExchange(this.w, slot + S_TOKEN, 0, token) !== 0) continue;
      this.w[slot + S_THREAD] = hostThreadId();
      Atomics.store(this.w, slot + S_NONCE, realmNonce);
      Atomics.add(this.w, slot + S_CLAIMS, 1);
      this.cpu = cpu;
      this.myToken = token;
      return;
    }
    throw new CpuSlotsError(
      `all ${this.nrSlots} CPU slots are taken: boot with a larger \`cpus\` (it counts every thread that allocates, the booting one included), detach() threads that are done, or offlineCpu() the slots of workers that exited`,
    );
  }
}
