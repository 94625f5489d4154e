/**
 * A start line for test workers: each one adds itself to word 0 of `barrier` and spins (bounded by
 * `deadline`, a Date.now() value) until all `workers` have arrived, so that they start together.
 */
export function meetAtBarrier(barrier: SharedArrayBuffer, workers: number, deadline: number): void {
  const word = new Int32Array(barrier);
  Atomics.add(word, 0, 1);
  while (Atomics.load(word, 0) < workers && Date.now() < deadline);
}
