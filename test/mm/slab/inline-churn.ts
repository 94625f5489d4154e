// Child script of inlining.test.ts: the bench's kmalloc churn with the objects used by the caller
// (bench/slab.bench.ts, the "objects used by the caller" group, kmem's plain-arena case). Its loop
// gathers type feedback, then is compiled once, synchronously, on demand (the test runs this with
// --allow-natives-syntax, --no-use-osr and --no-concurrent-recompilation under
// --trace-turbo-inlining), so that the trace's decisions about the loop are that one compile's.
import { slabCases } from '../../../bench/slab.bench.ts';

const c = slabCases().find((x) => x.group.includes('objects used by the caller') && x.name === 'kmem kmalloc + kfree');
if (c === undefined) throw new Error('inline-churn: the bench has no kmem churn case with the objects used');
const run = c.make();
// V8's natives syntax is not TypeScript: the Function constructor's body is parsed by V8 itself.
const prepare = new Function('f', '%PrepareFunctionForOptimization(f)') as (f: unknown) => void;
const optimize = new Function('f', '%OptimizeFunctionOnNextCall(f)') as (f: unknown) => void;
prepare(run);
let sink: unknown = null;
for (let i = 0; i < 3; i++) sink = run(20_000);
optimize(run);
sink = run(20_000);
if (sink === Symbol.for('never')) console.log(sink);
