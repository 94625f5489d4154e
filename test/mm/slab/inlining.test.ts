// The fast paths of kmalloc and kfree fit V8's inlining budget inside a caller's loop that also
// reads and writes its objects (cpu-slab.ts, const enum K; docs/benchmarks.md, "kmalloc churn with
// the objects used: V8's inlining budget"). When they did not, kfree's fast path stayed a call and
// the churn with the objects used ran 1.7-2x the trivial kmalloc instead of about 1.4x.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { budgetedInlines, inlines, inliningTrace, worstOrderCharge } from '../../helpers/inlining.ts';
import { FREE_MARK, STATE_BIT_SHIFT, STATE_WORD_SHIFT } from '../../../src/mm/slab/alloc-state.ts';
import { ROW_FIELDS, ROW_WORDS } from '../../../src/mm/slab/cpu-slab.ts';
import { PAGE_SHIFT } from '../../../src/machine/ram.ts';

test('the churn loop that uses its objects inlines kfree down to its object-start check', () => {
  const log = inliningTrace([new URL('./inline-churn.ts', import.meta.url).pathname]);
  // The loop is the function into which both kmalloc and kfree (Kernel's methods) are inlined: an
  // anonymous closure, known by its SharedFunctionInfo's address.
  const byTarget = new Map<string, string[]>();
  for (const i of inlines(log)) byTarget.set(i.targetSfi, [...(byTarget.get(i.targetSfi) ?? []), i.callee]);
  const loops = [...byTarget].filter(([, inlined]) => inlined.includes('kmalloc') && inlined.includes('kfree'));
  assert.ok(loops.length > 0, 'the churn loop was never optimised with kmalloc and kfree inlined');
  for (const [sfi, inlined] of loops) {
    assert.ok(inlined.includes('objectStart'), `kfree's fast path was not inlined into the loop: ${inlined.join(', ')}`);
    // And in whatever order V8 considers them (test/helpers/inlining.ts, worstOrderCharge).
    const { charge, budget, total } = worstOrderCharge(budgetedInlines(log, sfi).map((c) => c.bytes));
    assert.ok(charge <= budget, `the churn loop's inlined callees: ${total} bytes of bytecode; considered last, the largest charges the budget ${charge} of ${budget}`);
  }
});

test('every constant the fast paths write as a literal equals the constant its comment names', () => {
  const source = readFileSync(new URL('../../../src/mm/slab/cpu-slab.ts', import.meta.url), 'utf8');
  const named: Record<string, number> = { FREE_MARK, STATE_BIT_SHIFT, STATE_WORD_SHIFT, PAGE_SHIFT, ROW_WORDS };
  for (const [field, value] of Object.entries(ROW_FIELDS)) named[`F.${field}`] = value;
  const uses = [...source.matchAll(/\b(0x[0-9a-f]+|\d+) \/\* (F\.[A-Z_]+|[A-Z_]+) \*\//g)];
  assert.ok(uses.length >= 30, `only ${uses.length} annotated literals found`);
  for (const [text, literal, name] of uses) {
    assert.ok(name !== undefined && name in named, `${text}: no constant named ${name}`);
    assert.equal(Number(literal), named[name as string], `${text}: ${name} is ${named[name as string]}`);
  }
});
