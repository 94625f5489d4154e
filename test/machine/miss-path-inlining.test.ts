// The miss path's callees (src/machine/cpu.ts: fill4k twice, lruTake twice, findWay twice,
// sigMayHold, signature) must fit V8's inlining budget in whatever order V8 considers them. V8
// inlines the most frequent call sites first while their bytecode fits a cumulative budget
// (--max-inlined-bytecode-size-cumulative, 920), charging each candidate at 1.2× its size as it
// decides (--reserve-inline-budget-scale-factor). The frequencies come from the type feedback of
// the moment, so the order changes from process to process: with 894 bytes of callees, a
// compile that came to fill4k last left it a call, and miss-heavy loads ran at 52–57 ns instead
// of 45–48 for the whole process (docs/benchmarks.md, "The miss path's inlining budget").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inliningTrace, worstOrderCharge } from '../helpers/inlining.ts';
import { missPathScript } from '../helpers/miss-path-script.ts';

test('cpu: the miss path inlines all its callees, and they fit V8\'s budget in any order', () => {
  const log = inliningTrace(['-e', missPathScript('')]);
  // The compile's first candidate list that offers fill4k (called from the miss path only).
  const lines = log.split('\n');
  const listAt = (start: number): { name: string; bytes: number }[] => {
    const count = Number(/^(\d+) candidate\(s\) for inlining:/.exec(lines[start]!)![1]);
    const list: { name: string; bytes: number }[] = [];
    for (let i = start + 1; list.length < count && i < lines.length; i++) {
      const m = /- target: .*<SharedFunctionInfo (\w+)>\}, bytecode size: (\d+)/.exec(lines[i]!);
      if (m !== null) list.push({ name: m[1]!, bytes: Number(m[2]) });
    }
    return list;
  };
  const starts = lines.flatMap((l, i) => (/^\d+ candidate\(s\) for inlining:/.test(l) ? [i] : []));
  const candidates = starts.map(listAt).find((list) => list.some((c) => c.name === 'fill4k'));
  assert.ok(candidates !== undefined, 'no candidate list with fill4k in the trace');
  const names = candidates.map((c) => c.name).sort();
  assert.deepEqual(names, ['fill4k', 'fill4k', 'findWay', 'findWay', 'lruTake', 'lruTake', 'sigMayHold', 'signature'], 'the miss path calls what this test expects');
  // Inlined, each call site (into the anonymous closure).
  for (const name of new Set(names)) {
    const inlined = lines.filter((l) => new RegExp(`^Inlining .*<SharedFunctionInfo ${name}>\\} into .*<SharedFunctionInfo>\\}`).test(l)).length;
    assert.ok(inlined >= names.filter((n) => n === name).length, `${name} inlined ${inlined} times into the miss path`);
  }
  // In any order: the last candidate considered, at its charged size, still fits.
  const { charge, budget, total } = worstOrderCharge(candidates.map((c) => c.bytes));
  assert.ok(charge <= budget, `the miss path's callees: ${total} bytes of bytecode; considered last, the largest charges the budget ${charge} of ${budget}`);
});
