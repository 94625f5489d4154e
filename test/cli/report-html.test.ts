// The HTML report escapes what it prints, in element content and in double-quoted attributes alike.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderReportHtml } from '../../src/cli/report/html.ts';

test('the HTML report escapes & < > and " in text and in attributes', () => {
  const html = renderReportHtml(
    [
      {
        scenario: 'a"b',
        title: 'x < y & z',
        question: 'q',
        seed: 1,
        smoke: true,
        params: {},
        result: { summary: ['"quoted"'], tables: [{ id: 't"1', title: 'T', columns: [{ key: 'k', label: 'k' }], rows: [{ k: '<b>' }] }], plots: [] },
        elapsedMs: 0,
      },
    ],
    1,
  );
  assert.match(html, /<h2 id="a&quot;b">a&quot;b: x &lt; y &amp; z<\/h2>/);
  assert.match(html, /<h3 id="t&quot;1">/);
  assert.match(html, /<li>&quot;quoted&quot;<\/li>/);
  assert.match(html, /<td>&lt;b&gt;<\/td>/);
  assert.doesNotMatch(html, /id="a"b"|id="t"1"/);
});
