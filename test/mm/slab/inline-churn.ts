// Child script of inlining.test.ts: the bench's kmalloc churn with the objects used by the caller
// (bench/slab.bench.ts, the "objects used by the caller" group, kmem's plain-arena case), run long
// enough for V8 to optimise its loop. The test runs it under --trace-turbo-inlining.
import { slabCases } from '../../../bench/slab.bench.ts';

const c = slabCases().find((x) => x.group.includes('objects used by the caller') && x.name === 'kmem kmalloc + kfree');
if (c === undefined) throw new Error('inline-churn: the bench has no kmem churn case with the objects used');
const run = c.make();
let sink: unknown = null;
for (let i = 0; i < 60; i++) sink = run(20_000);
if (sink === Symbol.for('never')) console.log(sink);
