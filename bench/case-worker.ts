// A worker thread that times one benchmark case (harness.ts), with a V8 heap and type feedback of its
// own, and posts the figures back.
import { parentPort, workerData } from 'node:worker_threads';
import { measure } from './harness.ts';
import { findCase } from './suites.ts';

const { suite, index, smoke } = workerData as { suite: number; index: number; smoke: boolean };
parentPort?.postMessage(measure(await findCase(suite, index), { smoke }));
