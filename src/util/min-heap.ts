/**
 * A binary min-heap of (key, value) pairs over growable typed arrays: the event queue of workloads
 * that free objects when their lifetime ends. Keys are float64 (times), values int32 (handles).
 */
export class MinHeap {
  private keys: Float64Array;
  private values: Int32Array;
  private count = 0;

  constructor(initialCapacity = 1024) {
    this.keys = new Float64Array(initialCapacity);
    this.values = new Int32Array(initialCapacity);
  }

  get size(): number {
    return this.count;
  }

  push(key: number, value: number): void {
    if (this.count === this.keys.length) this.grow();
    this.siftUp(this.count++, key, value);
  }

  /** The smallest key; Infinity when empty. */
  peekKey(): number {
    return this.count === 0 ? Infinity : (this.keys[0] as number);
  }

  /** Removes the entry with the smallest key and returns its value. The heap must not be empty. */
  pop(): number {
    const top = this.values[0] as number;
    const last = --this.count;
    const key = this.keys[last] as number;
    const value = this.values[last] as number;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= last) break;
      if (child + 1 < last && (this.keys[child + 1] as number) < (this.keys[child] as number)) child++;
      if ((this.keys[child] as number) >= key) break;
      this.keys[i] = this.keys[child] as number;
      this.values[i] = this.values[child] as number;
      i = child;
    }
    this.keys[i] = key;
    this.values[i] = value;
    return top;
  }

  /** Removes the entry with the largest key (a leaf: an O(n/2) scan) and returns its value. The heap
   * must not be empty. */
  popMax(): number {
    let at = this.count >> 1;
    for (let i = at + 1; i < this.count; i++) if ((this.keys[i] as number) > (this.keys[at] as number)) at = i;
    const value = this.values[at] as number;
    const last = --this.count;
    if (at === last) return value;
    this.siftUp(at, this.keys[last] as number, this.values[last] as number);
    return value;
  }

  /** Puts (key, value) at slot i, or above it while its parent's key is larger. */
  private siftUp(i: number, key: number, value: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const parentKey = this.keys[parent] as number;
      if (parentKey <= key) break;
      this.keys[i] = parentKey;
      this.values[i] = this.values[parent] as number;
      i = parent;
    }
    this.keys[i] = key;
    this.values[i] = value;
  }

  private grow(): void {
    const keys = new Float64Array(this.keys.length * 2);
    const values = new Int32Array(this.values.length * 2);
    keys.set(this.keys);
    values.set(this.values);
    this.keys = keys;
    this.values = values;
  }
}
