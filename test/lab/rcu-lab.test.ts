import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RcuLab, ReaderState } from '../../src/lab/views/rcu-lab.ts';

test('RCU lab: with kfree_rcu no reader sees a freed node; freeing at once, readers do', () => {
  const lab = new RcuLab(1);
  for (let i = 0; i < 120; i++) lab.step();
  const s = lab.stats();
  assert.equal(lab.useAfterFree, 0);
  assert.ok(lab.sectionsChecked > 60, `${lab.sectionsChecked} sections checked`);
  assert.ok(s.gpCompleted > 10 && s.kfreeFreed > 50, JSON.stringify(s));
  assert.equal(lab.history.reduce((n, h) => n + h.gpCompleted, 0), s.gpCompleted);
  // A stalled reader holds every grace period up: once the grace periods older than its section
  // have ended (the other readers' sections last at most 4 steps, their idle gaps 2), none ends and
  // the pending frees only grow.
  lab.setStalled(0, true);
  for (let i = 0; i < 8; i++) lab.step();
  const pending = lab.stats().kfreePending.objects;
  const completed = lab.stats().gpCompleted;
  for (let i = 0; i < 30; i++) lab.step();
  assert.equal(lab.stats().gpCompleted, completed);
  assert.equal(lab.stats().kfreePending.objects, pending + 30);
  assert.ok(lab.history.slice(-30).every((h) => h.readers[0] === ReaderState.Stalled));
  lab.setStalled(0, false);
  for (let i = 0; i < 10; i++) lab.step();
  assert.ok(lab.stats().kfreePending.objects < 10, 'released: the backlog is freed (a few steps of frees wait in steady state)');
  lab.validate();
  lab.mode = 'kfree at once';
  for (let i = 0; i < 200; i++) lab.step();
  assert.ok(lab.useAfterFree > 0, 'freed at once, readers reach freed nodes');
  assert.ok(lab.history.some((h) => h.readers.includes(ReaderState.UseAfterFree)));
});

test('RCU lab: a reader stalled for longer than the domain\'s 1.5 s timeout raises the RCU stall warning naming its CPU', async () => {
  const lab = new RcuLab(3);
  for (let i = 0; i < 10; i++) lab.step();
  lab.setStalled(1, true);
  for (let i = 0; i < 10; i++) lab.step();
  assert.equal(lab.stats().stalls, 0);
  await new Promise((resolve) => setTimeout(resolve, 1600));
  lab.step();
  const s = lab.stats();
  assert.equal(s.stalls, 1);
  assert.match(s.lastStall ?? '', /detected stalls on CPUs\/tasks: \{ 2 \}/);
});
