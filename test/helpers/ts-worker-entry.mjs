// Worker bootstrap: registers tsx in this thread, then loads the TypeScript module named in
// workerData.tsModule. Node 20 does not carry module hooks (`--import tsx`) into workers.
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.tsModule);
