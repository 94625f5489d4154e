// The HTML report escapes what it prints, in element content and in double-quoted attributes alike,
// and opens with where and when it was made.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderReportHtml } from '../../src/cli/report/html.ts';

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
});
