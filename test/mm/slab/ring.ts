// A bounded single-producer, single-consumer ring of int32 values in a SharedArrayBuffer, one per
// worker: slot i of ring r is at r * RING_SLOTS + 2 + i, with head and tail words at + 0 and + 1.
export const RING_CAPACITY = 1024;
export const RING_SLOTS = RING_CAPACITY + 2;

export function ringBytes(rings: number): number {
  return (rings * RING_SLOTS + 1) * 4;
}

export function ringPush(words: Int32Array, ring: number, value: number): boolean {
  const base = ring * RING_SLOTS;
  const tail = Atomics.load(words, base + 1);
  if (tail - Atomics.load(words, base) >= RING_CAPACITY) return false;
  words[base + 2 + (tail % RING_CAPACITY)] = value;
  Atomics.store(words, base + 1, tail + 1);
  return true;
}

export function ringPop(words: Int32Array, ring: number): number {
  const base = ring * RING_SLOTS;
  const head = Atomics.load(words, base);
  if (head === Atomics.load(words, base + 1)) return -1;
  const value = words[base + 2 + (head % RING_CAPACITY)] as number;
  Atomics.store(words, base, head + 1);
  return value;
}
