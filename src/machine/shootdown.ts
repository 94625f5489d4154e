/**
 * TLB shootdown across CPUs (worker threads): the hardware-ish mechanism an OS builds from IPIs.
 * The initiator posts one request, raises each target CPU's request word, and waits until every
 * target has acknowledged; a target sees its raised word before its next translation (cpu.ts checks
 * it on every access), performs the flush on its own TLB and acknowledges. Which CPUs "may cache the
 * mapping" is the kernel's knowledge (its mm cpumask): it passes the targets.
 *
 * LAYOUT (Int32Array words in shared memory the kernel allocates: `ShootdownDomain.wordsNeeded(n)`)
 *   [0] lock: 0 free, else 1 + the initiating CPU   (one request in flight per domain)
 *   [1] generation of the last request posted
 *   [2] kind: 1 pages, 2 one PCID, 3 everything (globals too)
 *   [3] PCID   [4] start vaddr bits 31:0   [5] start vaddr bits 47:32   [6] pages   [7] page shift
 *   [8 + 2·cpu] request generation raised for that CPU;  [9 + 2·cpu] generation it acknowledged
 * Invariants: ack[cpu] ≤ request[cpu] ≤ generation; the request fields do not change while the lock
 * is held, and the lock is held from posting until every target acknowledged (or the wait timed out).
 * Lock order: a CPU waiting for the lock keeps servicing requests aimed at itself, so two initiators
 * never deadlock on each other.
 * Waiting: Atomics.wait where the host allows it (Node's threads; not a browser's main thread) on a
 * SharedArrayBuffer, else a spin; either way bounded by `timeoutMs`, then `ShootdownTimeoutError`.
 */
import { ArgumentError, KmemError } from '../util/errors.ts';
import type { Tlb } from './tlb.ts';

export const SHOOTDOWN_PAGES = 1;
export const SHOOTDOWN_PCID = 2;
export const SHOOTDOWN_ALL = 3;
const HEADER_WORDS = 8;
const LOCK = 0;
const GEN = 1;

export interface ShootdownRequest {
  kind: 'pages' | 'pcid' | 'all';
  pcid?: number;
  /** For 'pages': the first page's address and the page count and size (shift 12 or 21). */
  vaddr?: number;
  pages?: number;
  pageShift?: number;
}

/** A target CPU did not acknowledge in time (it is not running translations and not polling). */
export class ShootdownTimeoutError extends KmemError {
  override name = 'ShootdownTimeoutError';
  constructor(
    readonly pending: number[],
    readonly timeoutMs: number,
  ) {
    super(`TLB shootdown: CPUs [${pending.join(', ')}] did not acknowledge within ${timeoutMs} ms; expected every target to translate or poll`);
  }
}

let waitAllowed: boolean | null = null;
function canWait(words: Int32Array): boolean {
  if (typeof SharedArrayBuffer === 'undefined' || !(words.buffer instanceof SharedArrayBuffer)) return false;
  if (waitAllowed === null) {
    try {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
      waitAllowed = true;
    } catch {
      waitAllowed = false;
    }
  }
  return waitAllowed;
}

/** The part of a CPU the domain needs (cpu.ts implements it): `pollShootdown()` services a raised
 *  request word by calling `service()` with its TLB. */
export interface ShootdownCpu {
  readonly index: number;
  pollShootdown(): void;
}

export class ShootdownDomain {
  static wordsNeeded(nrCpus: number): number {
    return HEADER_WORDS + 2 * nrCpus;
  }

  /** A domain over fresh shared memory (tests and scenarios; the kernel passes its own words). */
  static create(nrCpus: number): ShootdownDomain {
    return new ShootdownDomain(new Int32Array(new SharedArrayBuffer(4 * ShootdownDomain.wordsNeeded(nrCpus))), nrCpus);
  }

  constructor(
    readonly words: Int32Array,
    readonly nrCpus: number,
  ) {
    if (!Number.isInteger(nrCpus) || nrCpus < 1 || words.length < ShootdownDomain.wordsNeeded(nrCpus)) {
      throw new ArgumentError(`shootdown domain for ${nrCpus} CPUs got ${words.length} words; expected at least 1 CPU and ${ShootdownDomain.wordsNeeded(nrCpus)} words`);
    }
  }

  requestIndex(cpu: number): number {
    this.checkCpu(cpu);
    return HEADER_WORDS + 2 * cpu;
  }

  private ackIndex(cpu: number): number {
    return HEADER_WORDS + 2 * cpu + 1;
  }

  private checkCpu(cpu: number): void {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= this.nrCpus) throw new ArgumentError(`CPU ${cpu}: expected 0 … ${this.nrCpus - 1}`);
  }

  acknowledge(cpu: number, generation: number): void {
    const index = this.ackIndex(cpu);
    Atomics.store(this.words, index, generation);
    Atomics.notify(this.words, index);
  }

  /**
   * Acknowledges whatever was asked of `cpu` without flushing anything: for a CPU that holds no
   * translations (an initiator with no TLB, or one taken offline, whose TLB is gone).
   */
  acknowledgePending(cpu: number): void {
    this.acknowledge(cpu, Atomics.load(this.words, this.requestIndex(cpu)));
  }

  /** Target side: performs the posted request on `tlb`, acknowledges, returns the generation. */
  service(cpu: number, tlb: Tlb): number {
    const words = this.words;
    const generation = Atomics.load(words, this.requestIndex(cpu));
    const kind = Atomics.load(words, 2);
    const pcid = Atomics.load(words, 3);
    if (kind === SHOOTDOWN_PAGES) {
      const start = (Atomics.load(words, 5) >>> 0) * 0x1_0000_0000 + (Atomics.load(words, 4) >>> 0);
      const pages = Atomics.load(words, 6);
      const size = 2 ** Atomics.load(words, 7);
      for (let i = 0; i < pages; i++) tlb.invlpg(start + i * size, pcid);
    } else if (kind === SHOOTDOWN_PCID) {
      tlb.flushPcid(pcid);
    } else {
      tlb.flushAll(false);
    }
    this.acknowledge(cpu, generation);
    return generation;
  }

  /**
   * Initiator side: flushes `initiator`'s own TLB, asks every CPU of `targets` (the initiator is
   * skipped if listed) to do the same and returns once all acknowledged. Returns the generation.
   */
  shootdown(initiator: ShootdownCpu, targets: readonly number[], request: ShootdownRequest, timeoutMs = 2000): number {
    const words = this.words;
    const deadline = Date.now() + timeoutMs;
    const wait = canWait(words);
    // Take the lock, servicing requests aimed at us meanwhile.
    while (Atomics.compareExchange(words, LOCK, 0, initiator.index + 1) !== 0) {
      initiator.pollShootdown();
      if (Date.now() > deadline) throw new ShootdownTimeoutError([Atomics.load(words, LOCK) - 1], timeoutMs);
      if (wait) Atomics.wait(words, LOCK, Atomics.load(words, LOCK), 1);
    }
    try {
      const generation = Atomics.load(words, GEN) + 1;
      const kind = request.kind === 'pages' ? SHOOTDOWN_PAGES : request.kind === 'pcid' ? SHOOTDOWN_PCID : SHOOTDOWN_ALL;
      const vaddr = request.vaddr ?? 0;
      Atomics.store(words, 2, kind);
      Atomics.store(words, 3, request.pcid ?? 0);
      Atomics.store(words, 4, vaddr % 0x1_0000_0000 | 0);
      Atomics.store(words, 5, Math.floor(vaddr / 0x1_0000_0000));
      Atomics.store(words, 6, request.pages ?? 0);
      Atomics.store(words, 7, request.pageShift ?? 12);
      Atomics.store(words, GEN, generation);
      // Our own TLB first, through the CPU's own servicing path.
      Atomics.store(words, this.requestIndex(initiator.index), generation);
      initiator.pollShootdown();
      const others = [...new Set(targets)].filter((cpu) => cpu !== initiator.index);
      for (const cpu of others) {
        const index = this.requestIndex(cpu);
        Atomics.store(words, index, generation);
        Atomics.notify(words, index);
      }
      for (const cpu of others) {
        const ack = this.ackIndex(cpu);
        for (;;) {
          const seen = Atomics.load(words, ack);
          if (seen === generation) break;
          const left = deadline - Date.now();
          if (left <= 0) {
            throw new ShootdownTimeoutError(others.filter((c) => Atomics.load(words, this.ackIndex(c)) !== generation), timeoutMs);
          }
          if (wait) Atomics.wait(words, ack, seen, Math.min(left, 50));
        }
      }
      return generation;
    } finally {
      Atomics.store(words, LOCK, 0);
      Atomics.notify(words, LOCK);
    }
  }

  /** An idle CPU's wait for work: sleeps on its request word (bounded) and services what came. */
  idleWait(cpu: ShootdownCpu, seenGeneration: number, timeoutMs: number): void {
    const index = this.requestIndex(cpu.index);
    if (canWait(this.words)) Atomics.wait(this.words, index, seenGeneration, timeoutMs);
    cpu.pollShootdown();
  }

  /** The latest generation, the lock holder (−1 if free) and each CPU's request and acknowledgement. */
  stats(): { generation: number; lockHolder: number; cpus: { request: number; acknowledged: number }[] } {
    const cpus = Array.from({ length: this.nrCpus }, (_, cpu) => ({
      request: Atomics.load(this.words, HEADER_WORDS + 2 * cpu),
      acknowledged: Atomics.load(this.words, HEADER_WORDS + 2 * cpu + 1),
    }));
    return { generation: Atomics.load(this.words, GEN), lockHolder: Atomics.load(this.words, LOCK) - 1, cpus };
  }

  validate(): void {
    const generation = Atomics.load(this.words, GEN);
    for (let cpu = 0; cpu < this.nrCpus; cpu++) {
      const request = Atomics.load(this.words, HEADER_WORDS + 2 * cpu);
      const ack = Atomics.load(this.words, HEADER_WORDS + 2 * cpu + 1);
      if (!(ack <= request && request <= generation)) {
        throw new KmemError(`shootdown domain: CPU ${cpu} acknowledged ${ack}, was asked ${request}, latest ${generation}; expected ack ≤ request ≤ latest`);
      }
    }
  }
}
