/**
 * The cache model: ns per 4-byte access through a CPU's MemoryPort (L1 hits, and a working set that
 * misses to L2/L3/RAM), beside the baseline a user would write, a plain Uint32Array load from the
 * same RAM at the same addresses. Goal (issue 11): the model costs at most 5× a bare load on hits.
 */
import { MemorySystem } from '../src/machine/cache.ts';
import { Ram } from '../src/machine/ram.ts';
import { Prng } from '../src/util/prng.ts';
import type { BenchCase } from './harness.ts';

const ADDRESSES = 1 << 16;
/** Inside the 32 KiB L1D: every access hits once warm. */
export const HIT_SET_BYTES = 16 << 10;

/** Aligned 4-byte addresses spread over `workingSetBytes`, in a seeded random order (ADDRESSES of them). */
export function addresses(workingSetBytes: number): Int32Array {
  const prng = new Prng(42);
  return Int32Array.from({ length: ADDRESSES }, () => prng.int(workingSetBytes / 4) * 4);
}

function machine(): { ram: Ram; mem: MemorySystem } {
  const ram = Ram.create({ sizeBytes: '64MiB' });
  return { ram, mem: new MemorySystem(ram, { preset: 'skylake' }) };
}

/** A case running `op` through CPU 0's port over `workingSetBytes`, warmed first if `warm`. */
function portCase(group: string, name: string, workingSetBytes: number, op: 'load' | 'store', warm: boolean): BenchCase {
  return {
    group,
    unit: 'access',
    name,
    make: () => {
      const { mem } = machine();
      const port = mem.cpu(0);
      const addr = addresses(workingSetBytes);
      // Warm through the byte-range calls (readBytes, or writeBytes for a store loop, whose steady
      // state is stores to lines it has already dirtied), not through load()/store() themselves:
      // their general paths then carry no call feedback, and V8 never inlines them into the fast
      // path it compiles. Warmed through load()/store(), one run in three or four compiled the
      // general path into the fast one, which the loop then called instead of inlining (8–9 ns).
      if (warm) {
        const word = new Uint8Array(4);
        for (let a = 0; a < workingSetBytes; a += 64) {
          if (op === 'store') port.writeBytes(a, word);
          else port.readBytes(a, word);
        }
      }
      if (op === 'store') {
        return (n) => {
          for (let i = 0; i < n; i++) port.store(addr[i & (ADDRESSES - 1)] as number, 4, i);
          return port.stores;
        };
      }
      return (n) => {
        let x = 0;
        for (let i = 0; i < n; i++) x ^= port.load(addr[i & (ADDRESSES - 1)] as number, 4);
        return x;
      };
    },
  };
}

export function cacheCases(): BenchCase[] {
  const group = 'cache model, 4-byte accesses';
  const hitSet = HIT_SET_BYTES;
  return [
    {
      group,
      unit: 'access',
      name: 'baseline: Uint32Array load (same RAM, same addresses)',
      baseline: true,
      make: () => {
        const { ram } = machine();
        const words = new Uint32Array(ram.buffer);
        const addr = addresses(hitSet);
        return (n) => {
          let x = 0;
          for (let i = 0; i < n; i++) x ^= words[(addr[i & (ADDRESSES - 1)] as number) >>> 2] as number;
          return x;
        };
      },
    },
    portCase(group, 'cache model load, 16 KiB working set (L1 hits)', hitSet, 'load', true),
    portCase(group, 'cache model store, 16 KiB working set (L1 hits)', hitSet, 'store', true),
    portCase(group, 'cache model load, 16 MiB working set (misses to L2, L3, RAM)', 16 << 20, 'load', false),
  ];
}
