// The miss path's callees (src/machine/cpu.ts: fill4k twice, lruTake twice, the two probes,
// sigMayHold, signature) must fit V8's inlining budget in whatever order V8 considers them. V8
// inlines the most frequent call sites first while their bytecode fits a cumulative budget
// (--max-inlined-bytecode-size-cumulative, 920), charging each candidate at 1.2× its size as it
// decides (--reserve-inline-budget-scale-factor). The frequencies come from the type feedback of
// the moment, so the order changes from process to process: with 894 bytes of callees, a
// compile that came to fill4k last left it a call, and miss-heavy loads ran at 52–57 ns instead
// of 45–48 for the whole process (docs/benchmarks.md, "The miss path's upper-level entries and its
// inlining budget").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { budgetedInlines, inlines, inliningTrace, worstOrderCharge } from '../helpers/inlining.ts';
import { missPathScript } from '../helpers/miss-path-script.ts';

for (const globals of [false, true]) {
  const what = globals ? ', with global pages in the TLBs' : '';
  test(`cpu: the miss path inlines all its callees, and they fit V8's budget in any order${what}`, () => {
    const log = inliningTrace(['-e', missPathScript('', { globals })]);
    // The miss path is the compile fill4k is inlined into (nothing else calls fill4k); an anonymous
    // closure, known by its SharedFunctionInfo's address.
    const sfi = inlines(log).find((i) => i.callee === 'fill4k')?.targetSfi;
    assert.ok(sfi !== undefined, 'fill4k was never inlined');
    const callees = budgetedInlines(log, sfi);
    // Every call site inlined: fill4k and lruTake twice each (L1 and STLB), the L1 probe
    // (findWayEither: this PCID's tag and the global one in one scan), the STLB probe (findWay; a
    // second findWay for the global tag once the STLB has held global entries) and sigMayHold.
    // The signature (seededSignature) is under V8's small-function size, inlined outside the
    // budget: once, and a second time for a global fill. Before, with global entries held, the
    // candidates came to 1,086 bytes (a second findWay in L1, a global fill's signature at 63
    // bytes) and the worst order charged 935 of 920 for the nine a compile inlined.
    const expected = ['fill4k', 'fill4k', 'findWayEither', 'lruTake', 'lruTake', 'sigMayHold', ...(globals ? ['findWay', 'findWay'] : ['findWay'])];
    assert.deepEqual(callees.map((c) => c.name).sort(), expected.sort(), 'the callees inlined into the miss path');
    const signatures = inlines(log).filter((i) => i.targetSfi === sfi && i.callee === 'seededSignature').length;
    assert.equal(signatures, globals ? 2 : 1, 'seededSignature inlined at each call site the warm-up reached');
    const { charge, budget, total } = worstOrderCharge(callees.map((c) => c.bytes));
    assert.ok(charge <= budget, `the miss path's callees: ${total} bytes of bytecode; considered last, the largest charges the budget ${charge} of ${budget}`);
  });
}
