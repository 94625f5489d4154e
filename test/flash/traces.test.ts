import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TraceCapacityError, TraceFormatError, TraceReader, TraceWorkload } from '../../src/flash/traces/reader.ts';
import type { TraceFormat } from '../../src/flash/traces/formats.ts';
import { drive, gcTestbed } from '../../src/flash/steady-state.ts';
import { OpBatch, OpKind } from '../../src/flash/workload.ts';

test('MSR Cambridge CSV: filetime ticks (read as µs since 1970), Read/Write, byte offsets and sizes', () => {
  const r = TraceReader.fromText('128166372003061629,hm,1,Read,7014609920,24576,41286\n128166372016382155,hm,1,Write,1317441536,8192,1963\n', 'msr').readAll();
  assert.deepEqual(r[1], { timeUs: 1172163601638215, op: 'write', device: 1, offsetBytes: 1317441536, sizeBytes: 8192 });
  assert.equal(r[0]?.op, 'read');
});

test('SPC: ASU, 512-byte LBAs, byte sizes, case-insensitive opcodes, seconds', () => {
  const r = TraceReader.fromText('0,20941264,8192,W,0.551706\n1,3436288,15872,r,0.557345,extra\n', 'spc').readAll();
  assert.deepEqual(r[0], { timeUs: 551706, op: 'write', device: 0, offsetBytes: 20941264 * 512, sizeBytes: 8192 });
  assert.equal(r[1]?.op, 'read');
  assert.equal(r[1]?.device, 1);
});

test('blkparse: only D events replay; RWBS after an optional F decides; the summary is skipped', () => {
  const text = [
    '  8,0    3        1     0.000000000   697  Q  WS 3417048 + 8 [kworker/u8:2]',
    '  8,0    3        4     0.000013020   697  D  WS 3417048 + 8 [kworker/u8:2]',
    '  8,0    0        1     0.000213591     0  C  WS 3417048 + 8 [0]',
    '  8,0    1        7     0.100000000   700  D  FWFS 100 + 16 [jbd2]',
    '  8,0    1        8     0.200000000   700  D  RM 200 + 8 [cat]',
    '  8,0    1        9     0.300000000   700  D  D 300 + 2048 [fstrim]',
    '  8,0    1       10     0.400000000   700  D  FN [kworker]',
    'CPU0 (8,0):',
    ' Reads Queued:           1,        4KiB  Writes Queued:           7,       48KiB',
    'Total (8,0):',
  ].join('\n');
  const r = TraceReader.fromText(text, 'blkparse').readAll();
  assert.deepEqual(
    r.map((x) => [x.op, x.offsetBytes / 512, x.sizeBytes / 512]),
    [
      ['write', 3417048, 8],
      ['write', 100, 16],
      ['read', 200, 8],
      ['trim', 300, 2048],
    ],
  );
  assert.equal(r[0]?.device, 8 * 256);
  assert.ok(Math.abs((r[0]?.timeUs ?? 0) - 13.02) < 1e-9);
});

test('DiskSim ASCII: ms, device, 512-byte blocks, hex flags with bit 0 = read', () => {
  const r = TraceReader.fromText('0.000000 0 20941264 16 0\n0.334000 2 3436288 31 0x1\n# comment\n\n', 'disksim').readAll();
  assert.deepEqual(r[1], { timeUs: 334, op: 'read', device: 2, offsetBytes: 3436288 * 512, sizeBytes: 31 * 512 });
  assert.equal(r.length, 2);
});

test('a malformed line is a TraceFormatError naming the file, the line and what was expected', () => {
  const cases: [TraceFormat, string, RegExp][] = [
    ['msr', '1,h,0,Read,0,4096,1\n1,h,0,Read,0,4096\n', /t\.csv:2: expected 7 comma-separated fields/],
    ['msr', '1,h,0,Erase,0,4096,1\n', /t\.csv:1: Type 'Erase': expected Read or Write/],
    ['msr', '1,h,0,Read,-4,4096,1\n', /Offset '-4'/],
    ['spc', '0,10,4096,X,0.1\n', /t\.csv:1: Opcode 'X'/],
    ['spc', '0,ten,4096,w,0.1\n', /LBA 'ten'/],
    ['blkparse', '  8,0 3 1 0.0 697 D WS 3417048 + 8 [k]\ngarbage here\n', /t\.csv:2: expected a blkparse event/],
    ['blkparse', '  8,0    3        4     0.000013020   697  D  WS [kworker]\n', /expected "sector \+ nsectors"/],
    ['disksim', '0.1 0 10 8\n', /t\.csv:1: expected 5 whitespace-separated fields/],
    ['disksim', '0.1 0 10 8 zz\n', /flags 'zz'/],
  ];
  for (const [format, text, message] of cases) {
    assert.throws(
      () => TraceReader.fromText(text, format, 't.csv').readAll(),
      (e: unknown) => e instanceof TraceFormatError && message.test(e.message) && e.file === 't.csv',
      `${format}: ${text}`,
    );
  }
  assert.throws(() => TraceReader.fromText('', 'csv' as TraceFormat), /expected one of msr, spc, blkparse, disksim/);
});

test('trace files stream in chunks: lines across chunk boundaries, CRLF, no final newline', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kmem-trace-'));
  try {
    const path = join(dir, 'big.csv');
    const lines = Array.from({ length: 6000 }, (_, i) => `${i},h,0,${i % 3 === 0 ? 'Read' : 'Write'},${i * 4096},4096,7`);
    writeFileSync(path, lines.join('\r\n'));
    const reader = TraceReader.open(path, 'msr');
    const records = reader.readAll();
    assert.equal(records.length, 6000);
    assert.equal(records[5999]?.offsetBytes, 5999 * 4096);
    writeFileSync(path, `${lines.slice(0, 4000).join('\n')}\nbroken\n`);
    assert.throws(() => TraceReader.open(path, 'msr').readAll(), (e: unknown) => e instanceof TraceFormatError && e.line === 4001 && e.file === path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('replay: requests become page operations, mapped compactly or modulo the store', () => {
  const text = '0,h,0,Write,0,10000,1\n0,h,0,Read,4096,100,1\n0,h,1,Write,0,4096,1\n';
  const batch = new OpBatch(16);
  const compact = new TraceWorkload(TraceReader.fromText(text, 'msr'), { logicalPages: 8, pageBytes: 4096 });
  assert.equal(compact.next(batch), 5);
  assert.deepEqual(Array.from(batch.lpn.subarray(0, 5)), [0, 1, 2, 1, 3]);
  assert.deepEqual(Array.from(batch.kind.subarray(0, 5)), [OpKind.Write, OpKind.Write, OpKind.Write, OpKind.Read, OpKind.Write]);
  assert.equal(compact.next(batch), 0, 'the trace has ended');
  const modulo = new TraceWorkload(TraceReader.fromText(text, 'msr'), { logicalPages: 5, pageBytes: 4096, mapping: 'modulo' });
  modulo.next(batch);
  assert.equal(batch.lpn[4], 1000003 % 5);
  const tooSmall = new TraceWorkload(TraceReader.fromText(text, 'msr'), { logicalPages: 3, pageBytes: 4096 });
  assert.throws(() => tooSmall.next(batch), TraceCapacityError);

  const ftl = gcTestbed(32, 8, 100, { policy: 'greedy' });
  const blk = Array.from({ length: 300 }, (_, i) => `  8,0 0 ${i} 0.${String(i).padStart(9, '0')} 1 D ${i % 7 === 0 ? 'D' : 'W'} ${(i * 37) % 640} + 8 [x]`).join('\n');
  const done = drive(ftl, new TraceWorkload(TraceReader.fromText(blk, 'blkparse'), { logicalPages: 100, pageBytes: 4096 }), Infinity);
  assert.ok(done > 300, 'unaligned 4 KiB requests cover two pages');
  assert.ok(ftl.stats().trims > 0 && ftl.hostWrites > 0);
  ftl.validate();
});
