/** Words of the control buffer shared by test/mm/vm/shootdown-workers.test.ts and its worker. */
export const C = { DONE: 0, READY: 1, PARKED: 2, PARK: 3, READER_CPU: 4, READER_EPOCH: 5, STATE: 8 } as const;
