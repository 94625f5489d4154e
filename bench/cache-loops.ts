/**
 * The bodies of bench/cache-interleaved.ts, the same loops as bench/cache.bench.ts's cases. That
 * script imports this module once per cache model (with a different query string), so each model's
 * loops are distinct functions with type feedback of their own: one loop fed two models' ports would
 * be polymorphic and time neither.
 */
export interface WordPort {
  load(paddr: number, sizeBytes: 4): number;
  store(paddr: number, sizeBytes: 4, value: number): void;
  readonly stores: number;
}

const MASK = (1 << 16) - 1;

export function loadBody(port: WordPort, addr: Int32Array): (n: number) => number {
  return (n) => {
    let x = 0;
    for (let i = 0; i < n; i++) x ^= port.load(addr[i & MASK] as number, 4);
    return x;
  };
}

export function storeBody(port: WordPort, addr: Int32Array): (n: number) => number {
  return (n) => {
    for (let i = 0; i < n; i++) port.store(addr[i & MASK] as number, 4, i);
    return port.stores;
  };
}

export function bareBody(words: Uint32Array, addr: Int32Array): (n: number) => number {
  return (n) => {
    let x = 0;
    for (let i = 0; i < n; i++) x ^= words[(addr[i & MASK] as number) >>> 2] as number;
    return x;
  };
}
