// A worker thread that times one benchmark case (harness.ts), with a V8 heap and type feedback of its
// own. It answers the parent's jobs one message each: 'prepare' builds and calibrates the case
// (answering its iteration count), each 'sample' times one run (answering ns per operation).
import { parentPort, workerData } from 'node:worker_threads';
import type { CaseAnswer, CaseJob, PreparedCase } from './harness.ts';
import { prepare, sample } from './harness.ts';
import { findCase } from './suites.ts';

const { suite, index, smoke } = workerData as { suite: number; index: number; smoke: boolean };
const c = await findCase(suite, index);
let prepared: PreparedCase | null = null;
parentPort?.on('message', (job: CaseJob) => {
  let answer: CaseAnswer;
  if (job.kind === 'prepare') {
    prepared = prepare(c, { smoke });
    answer = { iterations: prepared.iterations };
  } else {
    if (prepared === null) throw new Error(`bench case ${suite}/${index}: sampled before it was prepared`);
    answer = { nsPerOp: sample(prepared) };
  }
  parentPort?.postMessage(answer);
});
