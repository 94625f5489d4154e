// The HTML report escapes what it prints, in element content and in double-quoted attributes alike,
// and opens with where and when it was made.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderReportHtml } from '../../src/cli/report/html.ts';
import { columnFormatter } from '../../src/cli/render/format.ts';
import { renderRunText } from '../../src/cli/render/text.ts';
import type { Table } from '../../src/lab/scenario.ts';

const ENV = { date: '2026-01-02T03:04:05Z', commit: 'abc123', cpuModel: 'Test CPU <x>', cores: 2, node: 'v20.0.0', gpuAdapter: 'none' };

test('the HTML report escapes & < > and " in text and in attributes', async () => {
  const html = await renderReportHtml(
    [
      {
        scenario: 'a"b',
        title: 'x < y & z',
        question: 'q',
        seed: 1,
        smoke: true,
        params: {},
        passed: [],
        result: { answer: 'a & b', summary: ['"quoted"'], tables: [{ id: 't"1', title: 'T', columns: [{ key: 'k', label: 'k' }], rows: [{ k: '<b>' }] }], plots: [] },
        elapsedMs: 0,
      },
    ],
    1,
    ENV,
  );
  assert.match(html, /<h2 id="a&quot;b">a&quot;b: x &lt; y &amp; z<\/h2>/);
  assert.match(html, /<h3 id="t&quot;1">/);
  assert.match(html, /<li>&quot;quoted&quot;<\/li>/);
  assert.match(html, /<td>&lt;b&gt;<\/td>/);
  assert.match(html, /<b>Answer:<\/b> a &amp; b/);
  assert.doesNotMatch(html, /id="a"b"|id="t"1"/);
  for (const field of ['2026-01-02T03:04:05Z', 'abc123', 'Test CPU &lt;x&gt;, 2 cores', 'v20.0.0']) assert.ok(html.includes(field), field);
  // The report points at the explorer, at the address scripts/explore.mjs serves it on.
  assert.match(html, /<code>npm run explore<\/code> and open <a href="http:\/\/127\.0\.0\.1:5173\/">/);
  assert.match(readFileSync(new URL('../../scripts/explore.mjs', import.meta.url), 'utf8'), /KMEM_EXPLORE_PORT \?\? 5173/);
});

test('a column reads alike: the same digits for every number once one has a fraction, never an exponent', () => {
  const table: Table = {
    id: 't',
    title: 't',
    columns: [
      { key: 'alpha', label: 'α', digits: 2 },
      { key: 'rate', label: 'erases per write', digits: 4 },
      { key: 'n', label: 'count' },
    ],
    rows: [
      { alpha: 1.07, rate: 0.00109, n: 3 },
      { alpha: 2, rate: 0.04, n: 12 },
      { alpha: 1.5, rate: 0.000001, n: null },
    ],
  };
  const cells = (key: string) => table.rows.map((row) => columnFormatter(table, table.columns.find((c) => c.key === key)!)(row[key]));
  assert.deepEqual(cells('alpha'), ['1.07', '2.00', '1.50']);
  assert.deepEqual(cells('rate'), ['0.0011', '0.0400', '0.0000']);
  assert.deepEqual(cells('n'), ['3', '12', '']);
});

test('a table whose figures vary between runs carries the same mark in the HTML report and in the terminal', async () => {
  const tables: Table[] = [
    { id: 'w', title: 'Time per op', timing: true, columns: [{ key: 'k', label: 'k' }], rows: [{ k: 1 }] },
    { id: 's', title: 'Interleaving', scheduling: true, columns: [{ key: 'k', label: 'k' }], rows: [{ k: 2 }] },
    { id: 'd', title: 'Counts', columns: [{ key: 'k', label: 'k' }], rows: [{ k: 3 }] },
  ];
  const run = { scenario: 's', title: 't', question: 'q', seed: 1, smoke: true, params: {}, passed: [], result: { answer: 'a', summary: [], tables, plots: [] }, elapsedMs: 0 };
  const html = await renderReportHtml([run], 1, ENV);
  const text = renderRunText(run);
  assert.match(html, /Time per op <span class="timing">\(wall-clock\)<\/span>/);
  assert.match(text, /^Time per op \(wall-clock\)$/m);
  assert.match(html, /Interleaving <span class="timing">\(depends on scheduling: varies run to run\)<\/span>/);
  assert.match(text, /^Interleaving \(depends on scheduling: varies run to run\)$/m);
  assert.match(text, /^Counts$/m);
});
