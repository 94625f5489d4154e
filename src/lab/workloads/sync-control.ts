import type { Kernel } from '../../mm/kernel.ts';

/**
 * The control block lab workers and their driver share (a small SharedArrayBuffer outside the
 * arena, so that the bookkeeping of an experiment never disturbs what it measures).
 */
export const Ctl = {
  /** Set to 1 by the driver: start. */
  GO: 0,
  /** Workers attached and waiting for GO. */
  READY: 1,
  /** Set to 1 by the driver: stop. */
  STOP: 2,
  /** Workers that reached their special point (holding a lock to die with, inside a read to stall in). */
  PARKED: 3,
  /** Lock experiments: the shared counter and the critical-section stamp. */
  COUNTER: 8,
  STAMP: 9,
  /** From here, one word per worker: its CPU + 1 once it has attached (0 before). */
  CPU_OF: 16,
} as const;
export const CONTROL_WORDS = 16 + 64;

export function newControl(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
}

/** Worker side: says which CPU worker `index` is. */
export function announceCpu(control: Int32Array, index: number, cpu: number): void {
  Atomics.store(control, Ctl.CPU_OF + index, cpu + 1);
}

/** Driver side: the CPU worker `index` announced, or −1 if it has not. */
export function cpuOf(control: Int32Array, index: number): number {
  return Atomics.load(control, Ctl.CPU_OF + index) - 1;
}

/** Worker side: reports ready and blocks until GO. */
export function awaitGo(control: Int32Array): void {
  Atomics.add(control, Ctl.READY, 1);
  while (Atomics.load(control, Ctl.GO) === 0) Atomics.wait(control, Ctl.GO, 0, 50);
}

/** Driver side: starts every waiting worker. */
export function go(control: Int32Array): void {
  Atomics.store(control, Ctl.GO, 1);
  Atomics.notify(control, Ctl.GO);
}

/** Worker side: parks for good (until terminated), after saying so. */
export function parkForever(control: Int32Array): never {
  Atomics.add(control, Ctl.PARKED, 1);
  for (;;) Atomics.wait(control, Ctl.STOP, 0x7fffffff, 1000);
}

/** Driver side, at a worker's exit: its CPU goes offline (magazines back, locks recovered, RCU quiescent). */
export function offlineWorker(kernel: Kernel, control: Int32Array, index: number): void {
  const cpu = cpuOf(control, index);
  if (cpu >= 0) kernel.offlineCpu(cpu);
}
