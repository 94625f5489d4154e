import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TraceCapacityError, TraceFormatError, TraceReader, TraceWorkload } from '../../src/flash/traces/reader.ts';
import type { TraceFormat } from '../../src/flash/traces/formats.ts';
import { openTraceFile } from '../../src/flash/traces/trace-file.ts';
import { drive, gcTestbed } from '../../src/flash/steady-state.ts';
import { OpBatch, OpKind } from '../../src/flash/workload.ts';

/** A filetime in 2007, as the MSR Cambridge traces have. */
const T = '128166372003061629';
const BLK_EVENT = '  8,0    3        4     0.000013020   697  D  WS 3417048 + 8 [kworker/u8:2]';

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
  assert.equal(r[0]?.device, 8 * 2 ** 20);
  assert.ok(Math.abs((r[0]?.timeUs ?? 0) - 13.02) < 1e-9);
});

test('DiskSim ASCII: ms, device, 512-byte blocks, hex flags with bit 0 = read', () => {
  const r = TraceReader.fromText('0.000000 0 20941264 16 0\n0.334000 2 3436288 31 0x1\n# comment\n\n', 'disksim').readAll();
  assert.deepEqual(r[1], { timeUs: 334, op: 'read', device: 2, offsetBytes: 3436288 * 512, sizeBytes: 31 * 512 });
  assert.equal(r.length, 2);
});

test('a malformed line is a TraceFormatError naming the file, the line and what was expected', () => {
  const cases: [TraceFormat, string, RegExp][] = [
    ['msr', `${T},h,0,Read,0,4096,1\n${T},h,0,Read,0,4096\n`, /t\.csv:2: expected 7 comma-separated fields/],
    ['msr', `${T},h,0,Erase,0,4096,1\n`, /t\.csv:1: Type 'Erase': expected Read or Write/],
    ['msr', `${T},h,0,Read,-4,4096,1\n`, /Offset '-4'/],
    ['msr', '5,h,0,Read,0,4096,1\n', /t\.csv:1: Timestamp '5': expected Windows filetime ticks at or after 1970/],
    ['msr', `${T},,0,Read,0,4096,1\n`, /t\.csv:1: Hostname is empty/],
    ['msr', `${T},h,0,Read,9007199254740000,4096,1\n`, /expected a request within 2\^53 bytes/],
    ['spc', '0,10,4096,X,0.1\n', /t\.csv:1: Opcode 'X'/],
    ['spc', '0,ten,4096,w,0.1\n', /LBA 'ten'/],
    ['blkparse', '  8,0 3 1 0.000000000 697 D WS 3417048 + 8 [k]\ngarbage here\n', /t\.csv:2: expected a blkparse event/],
    ['blkparse', '  8,0 3 1 1.5 697 D WS 3417048 + 8 [k]\n', /t\.csv:1: time 1\.5: expected seconds and exactly 9 digits of nanoseconds/],
    ['blkparse', '  8,1048576 3 1 0.000000000 697 D WS 0 + 8 [k]\n', /t\.csv:1: device 8,1048576: expected a major below 4096 and a minor below 2\^20/],
    ['blkparse', `${BLK_EVENT}\nCPU0 (8,0):\n Reads Queued:  1,  4KiB\ngarbage here\n${BLK_EVENT}\n`, /t\.csv:4: expected a blkparse summary line/],
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
    const lines = Array.from({ length: 6000 }, (_, i) => `${BigInt(T) + BigInt(i)},h,0,${i % 3 === 0 ? 'Read' : 'Write'},${i * 4096},4096,7`);
    writeFileSync(path, lines.join('\r\n'));
    const reader = openTraceFile(path, 'msr');
    const records = reader.readAll();
    assert.equal(records.length, 6000);
    assert.equal(records[5999]?.offsetBytes, 5999 * 4096);
    writeFileSync(path, `${lines.slice(0, 4000).join('\n')}\nbroken\n`);
    assert.throws(() => openTraceFile(path, 'msr').readAll(), (e: unknown) => e instanceof TraceFormatError && e.line === 4001 && e.file === path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('replay: requests become page operations, mapped compactly or modulo the store', () => {
  const text = `${T},h,0,Write,0,10000,1\n${T},h,0,Read,4096,100,1\n${T},h,1,Write,0,4096,1\n`;
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

test('blkparse: a summary is skipped line by line, events after it (joined outputs) are replayed', () => {
  const summary = [
    'CPU0 (8,0):',
    ' Reads Queued:           1,        4KiB\t Writes Queued:           7,       48KiB',
    ' Read Dispatches:        1,        4KiB\t Write Dispatches:        7,       48KiB',
    ' IO unplugs:             1        \t Timer unplugs:           0',
    '',
    'Total (8,0):',
    ' Reads Completed:        1,        4KiB\t Writes Completed:        7,       48KiB',
    'Throughput (R/W): 0KiB/s / 0KiB/s',
    'Events (8,0): 83 entries',
    'Skips: 0 forward (0 -   0.0%)',
  ];
  const text = [
    '  8,0    0        1     0.000000001   697  D  W 8 + 8 [a]',
    ...summary,
    '  8,16   0        1     0.000000002   698  D  W 16 + 8 [b]',
    '  8,16   0        2     0.000000003   698  D  R 16 + 8 [b]',
    ...summary,
  ].join('\n');
  const r = TraceReader.fromText(text, 'blkparse').readAll();
  assert.deepEqual(
    r.map((x) => [x.op, x.device, x.offsetBytes / 512]),
    [
      ['write', 8 * 2 ** 20, 8],
      ['write', 8 * 2 ** 20 + 16, 16],
      ['read', 8 * 2 ** 20 + 16, 16],
    ],
  );
  assert.ok(Math.abs((r[2]?.timeUs ?? 0) - 0.003) < 1e-12, 'the 9 digits are nanoseconds');
  const minors = TraceReader.fromText('  8,256 0 1 0.000000001 1 D W 0 + 8 [a]\n  9,0 0 1 0.000000001 1 D W 0 + 8 [a]\n', 'blkparse').readAll();
  assert.notEqual(minors[0]?.device, minors[1]?.device, '(8,256) and (9,0) are different devices');
});

test('compact replay: reads and TRIMs of pages the trace never wrote take no logical page; oversized requests are errors', () => {
  const batch = new OpBatch(64);
  // mkfs discards the whole 1 GiB device first, then the file system writes and trims a little.
  const mkfs = [
    '  8,0 0 1 0.000000001 1 D D 0 + 2097152 [mkfs]',
    '  8,0 0 2 0.000000002 1 D W 0 + 16 [mkfs]',
    '  8,0 0 3 0.000000003 1 D R 8 + 32 [cat]',
    '  8,0 0 4 0.000000004 1 D D 0 + 2097152 [fstrim]',
  ].join('\n');
  const workload = new TraceWorkload(TraceReader.fromText(mkfs, 'blkparse'), { logicalPages: 100, pageBytes: 4096 });
  const ops: [number, number][] = [];
  for (let n = workload.next(batch); n > 0; n = workload.next(batch)) for (let i = 0; i < n; i++) ops.push([batch.kind[i] as number, batch.lpn[i] as number]);
  assert.deepEqual(ops, [
    [OpKind.Write, 0],
    [OpKind.Write, 1],
    [OpKind.Read, 1],
    [OpKind.Trim, 0],
    [OpKind.Trim, 1],
  ]);
  assert.equal(workload.distinctPages, 2);
  assert.equal(workload.skippedPages, 262144 + 3 + (262144 - 2), 'the discards, and the read of 3 unwritten pages, were skipped');

  const big = `${T},h,0,Write,0,${101 * 4096},1\n`;
  assert.throws(
    () => new TraceWorkload(TraceReader.fromText(big, 'msr', 'big.csv'), { logicalPages: 100, pageBytes: 4096, mapping: 'modulo' }).next(batch),
    (e: unknown) => e instanceof TraceFormatError && e.file === 'big.csv' && e.line === 1 && /covers 101 pages: expected at most the store's 100 logical pages/.test(e.message),
  );
  const modulo = new TraceWorkload(TraceReader.fromText('  8,0 0 1 0.000000001 1 D D 0 + 2097152 [mkfs]\n', 'blkparse'), { logicalPages: 100, pageBytes: 4096, mapping: 'modulo' });
  let trims = 0;
  for (let n = modulo.next(batch); n > 0; n = modulo.next(batch)) trims += n;
  assert.equal(trims, 100, 'modulo: a TRIM larger than the store discards each logical page once');
});
