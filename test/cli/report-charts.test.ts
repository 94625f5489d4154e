// The report's charts, checked on what Vega actually draws (its scenegraph), against the plot's
// data: bars sit in their own category's band, every series is drawn and named in full in the
// legend, series drawn alike never hide each other, and no tick label reads like -6e-17. Every
// registered scenario's plots are checked after a smoke run, and the cases that went wrong before
// (grouped bars shifted off their category, a constant series at -1, truncated legends) by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chartView, chartWarnings, renderChartSvg } from '../../src/cli/report/charts.ts';
import { SCENARIOS } from '../../src/lab/registry.ts';
import { runScenario } from '../../src/lab/run.ts';
import type { Plot } from '../../src/lab/scenario.ts';

interface SceneItem {
  marktype?: string;
  role?: string;
  items?: SceneItem[];
  x?: number;
  y?: number;
  width?: number;
  height?: number;
  text?: string | string[];
  strokeDash?: number[];
  datum?: { series?: string; panel?: string; x?: string | number; y?: number; style?: string };
}

/** Every mark of the scenegraph, depth first. */
function marks(root: SceneItem): SceneItem[] {
  const out: SceneItem[] = [];
  const walk = (item: SceneItem): void => {
    if (item.marktype !== undefined) out.push(item);
    for (const child of item.items ?? []) if (child.items !== undefined || child.marktype !== undefined) walk(child);
  };
  walk(root);
  return out;
}

function texts(all: SceneItem[], role: string): string[] {
  return all.filter((m) => m.role === role).flatMap((m) => (m.items ?? []).map((i) => (Array.isArray(i.text) ? i.text.join(' ') : String(i.text ?? ''))));
}

async function checkChart(plot: Plot): Promise<void> {
  const where = `plot '${plot.id}'`;
  chartWarnings.length = 0;
  const view = await chartView(plot);
  assert.deepEqual(chartWarnings, [], `${where}: Vega-Lite warns about its specification`);
  const all = marks((view.scenegraph() as unknown as { root: SceneItem }).root);
  const data = all.filter((m) => m.role === 'mark');
  const items = data.flatMap((m) => (m.items ?? []).map((i) => ({ ...i, marktype: m.marktype })));

  for (const label of texts(all, 'axis-label')) {
    assert.doesNotMatch(label, /\de[-+]?\d/i, `${where}: tick label '${label}' in exponent notation`);
    assert.doesNotMatch(label, /^[-−]0(\.0*)?$/, `${where}: tick label '${label}'`);
  }
  // Each series with a point that an axis can show is drawn, and named in the legend in full.
  const shown = plot.series.filter((s) => s.points.some(([x, y]) => (plot.y.log !== true || y > 0) && (plot.x.log !== true || x > 0)));
  const drawn = new Set(items.map((i) => i.datum?.series));
  for (const s of shown) assert.ok(drawn.has(s.label), `${where}: series '${s.label}' is not drawn`);
  const legend = texts(all, 'legend-label');
  if (legend.length > 0) {
    for (const s of shown) assert.ok(legend.includes(s.label), `${where}: legend lacks '${s.label}' in full (has ${legend.join(' | ')})`);
  }
  for (const label of [...legend, ...texts(all, 'axis-label')]) assert.ok(!label.includes('…'), `${where}: '${label}' is truncated`);

  if (plot.kind === 'bar') {
    // Bars lie along a band of the y axis, or, in panels, stand in a band of the x axis.
    const standing = plot.series.some((s) => s.panel !== undefined);
    const band = view.scale(standing ? 'x' : 'y') as unknown as ((v: string) => number) & { bandwidth(): number };
    const rects = items.filter((i) => i.marktype === 'rect');
    assert.equal(rects.length, shown.reduce((n, s) => n + s.points.length, 0), `${where}: one bar per point`);
    for (const bar of rects) {
      const category = String(bar.datum?.x);
      const start = band(category);
      const [from, size] = standing ? [bar.x ?? NaN, bar.width ?? NaN] : [bar.y ?? NaN, bar.height ?? NaN];
      assert.ok(Number.isFinite(start), `${where}: category '${category}' has a band`);
      assert.ok(from >= start - 0.5 && from + size <= start + band.bandwidth() + 0.5, `${where}: bar of '${category}' outside its band`);
      const expected = plot.categories === undefined && plot.series.every((s) => s.points.length === 1) ? bar.datum?.series : undefined;
      if (expected !== undefined) assert.equal(category, expected, `${where}: one-point series sit at their own category`);
    }
    return;
  }
  // Lines and markers: two series in one panel drawn alike (same style) never coincide point for point.
  const symbols = items.filter((i) => i.marktype === 'symbol' || i.marktype === 'line');
  const byPanel = new Map<string, Map<string, string>>();
  for (const item of symbols) {
    const panel = item.datum?.panel ?? '';
    const key = `${item.datum?.style ?? ''}|${item.datum?.series ?? ''}`;
    const paths = byPanel.get(panel) ?? new Map<string, string>();
    paths.set(key, `${paths.get(key) ?? ''}${Math.round(item.x ?? 0)},${Math.round(item.y ?? 0)};`);
    byPanel.set(panel, paths);
  }
  for (const [panel, paths] of byPanel) {
    const seen = new Map<string, string>();
    for (const [key, path] of paths) {
      const [style] = key.split('|');
      const clash = seen.get(`${style}|${path}`);
      assert.equal(clash, undefined, `${where}, panel '${panel}': '${key}' is drawn exactly over '${clash ?? ''}'`);
      seen.set(`${style}|${path}`, key);
    }
  }
}

test('bars of one-point series sit at their own category, in order, on a categorical axis', async () => {
  const plot: Plot = {
    id: 'waste',
    title: 'Waste',
    kind: 'bar',
    x: { label: 'design' },
    y: { label: '%' },
    series: [
      { label: 'fixed', points: [[1, 90]] },
      { label: 'slab', points: [[2, 25]] },
      { label: 'general-purpose (@thi.ng/malloc MemPool)', points: [[3, 3]] },
    ],
  };
  await checkChart(plot);
  const view = await chartView(plot);
  assert.deepEqual(view.scale('y').domain(), ['fixed', 'slab', 'general-purpose (@thi.ng/malloc MemPool)']);
  // Grouped bars: each series inside its category's band.
  await checkChart({ ...plot, categories: ['order 0', 'order 1'], series: [{ label: 'a', points: [[0, 1], [1, 2]] }, { label: 'b', points: [[0, 3], [1, 0.5]] }] });
});

test('the checks catch what went wrong before: exponent tick labels, a missing series, a hidden duplicate', async () => {
  // A constant series at -1 (the old fragmentation-index plot) gives clean ticks.
  await checkChart({ id: 'flat', title: 'Flat', kind: 'line', x: { label: 'x' }, y: { label: 'y' }, series: [{ label: 'a', points: [[0, -1], [1, -1 + 1e-17]] }] });
  // Two identical series drawn alike: one hides the other, and the check says so.
  const twin: Plot = { id: 'twin', title: 'Twin', kind: 'line', x: { label: 'x' }, y: { label: 'y' }, series: [{ label: 'a', points: [[0, 1], [1, 2]] }, { label: 'b', points: [[0, 1], [1, 2]] }] };
  await assert.rejects(checkChart(twin), /drawn exactly over/);
  // The same with the second dashed (a model over a measurement): both visible.
  await checkChart({ ...twin, series: [twin.series[0]!, { ...twin.series[1]!, style: 'dashed' }] });
  // Log axes leave out what they cannot show instead of drawing it as 1, and span only the data.
  const log: Plot = { id: 'log', title: 'Log', kind: 'line', x: { label: 'x' }, y: { label: 'bytes', log: true, format: 'bytes' }, series: [{ label: 'a', points: [[0, 3000], [1, 900_000], [2, 0]] }] };
  await checkChart(log);
  const [lo, hi] = (await chartView(log)).scale('y').domain() as [number, number];
  assert.ok(lo >= 2048 && hi <= 1 << 20, `log domain [${lo}, ${hi}] spans the data, not empty decades`);
  const svg = await renderChartSvg(log);
  assert.match(svg, /<title>[^<]*<\/title>/, 'marks carry tooltips');
  assert.doesNotMatch(svg, /…/);
});

test('bars in panels stand in their category\'s band, equal counts side by side, and a count axis ticks whole numbers only', async () => {
  const plot: Plot = {
    id: 'rounds',
    title: 'Per round',
    kind: 'bar',
    x: { label: 'round' },
    y: { label: 'events', integer: true },
    categories: ['1', '2', '3'],
    series: ['mode A', 'mode B'].flatMap((panel) => [
      { label: 'huge', panel, points: [[0, 2], [1, 1], [2, 0]] as [number, number][] },
      { label: 'fallback', panel, points: [[0, 0], [1, 1], [2, 2]] as [number, number][] },
    ]),
  };
  await checkChart(plot);
  const view = await chartView(plot);
  assert.deepEqual(view.scale('x').domain(), ['1', '2', '3']);
  const all = marks((view.scenegraph() as unknown as { root: SceneItem }).root);
  const bars = all.filter((m) => m.role === 'mark' && m.marktype === 'rect').flatMap((m) => m.items ?? []);
  // Round 2 has one of each in each panel: two bars of the same height, neither over the other.
  const round2 = bars.filter((b) => b.datum?.x === '2' && b.datum.panel === 'mode A');
  assert.equal(round2.length, 2);
  assert.equal(Math.round(round2[0]?.height ?? NaN), Math.round(round2[1]?.height ?? NaN));
  assert.ok(Math.abs((round2[0]?.x ?? 0) - (round2[1]?.x ?? 0)) >= (round2[0]?.width ?? 0) - 0.5, 'side by side');
  const labels = texts(all, 'axis-label');
  assert.ok(labels.length > 0);
  for (const label of labels) assert.match(label, /^\d+$/, `tick label '${label}': whole numbers only (rounds and counts)`);
  assert.deepEqual(texts(all, 'legend-label'), ['huge', 'fallback']);
});

for (const scenario of SCENARIOS) {
  test(`scenario ${scenario.name}: every chart's marks match its data`, async () => {
    const run = await runScenario(scenario, {}, { seed: 3, smoke: true });
    for (const plot of run.result.plots) await checkChart(plot);
  });
}
