/**
 * Plots (data) → Vega-Lite 5 specifications (drawing), shared by every scenario and every driver.
 *
 * A scenario returns its plots as data (scenario.ts: series of points, axes, categories, panels);
 * this module decides how they are drawn, once for all: the report renders the specification to SVG
 * in Node with Vega's runtime (cli/report/charts.ts), and a browser can run the same specification
 * interactively. Rules it applies so that a chart answers its question:
 *   - bars are categorical: one band per design, horizontal so long names read in full; several
 *     series per category are grouped inside the band, never shifted off it; bars in panels (small
 *     multiples, whose categories are short: rounds) stand up, grouped the same way;
 *   - every series stays visible: measured series are lines with a marker per point, models and
 *     ideals are dashed and drawn last (on top), and series that carry a panel are drawn as small
 *     multiples sharing their axes;
 *   - log axes span the data, not whole decades around it, and drop points ≤ 0 (which a log axis
 *     cannot show) instead of drawing them as 1;
 *   - legends list every series in full, under the plot, so a chart fits 800 px;
 *   - tick labels come from Vega's tick formatting (no -6e-17), in binary units for bytes.
 * Deterministic: the same plot gives the same specification.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { Axis, Plot, Series } from './scenario.ts';

export type ChartSpec = TopLevelSpec;

/** Plot width in pixels; with the axis and its title, a chart fits an 800 px page. */
export const CHART_WIDTH_PX = 560;
const HEIGHT_PX = 260;
const PANEL_HEIGHT_PX = 120;
/** Title lines wrap at this many characters. */
const TITLE_CHARS = 80;

interface Row {
  series: string;
  panel: string;
  style: NonNullable<Series['style']>;
  x: number | string;
  y: number;
}

/** Vega expression that writes a byte count with a binary unit (1.5 MiB). */
const BYTES_LABEL =
  "datum.value >= 1073741824 ? format(datum.value / 1073741824, '.3~r') + ' GiB' : datum.value >= 1048576 ? format(datum.value / 1048576, '.3~r') + ' MiB' : datum.value >= 1024 ? format(datum.value / 1024, '.3~r') + ' KiB' : format(datum.value, '~r') + ' B'";

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line.length > 0 && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line.length === 0 ? word : `${line} ${word}`;
    }
  }
  if (line.length > 0) lines.push(line);
  return lines;
}

function styleOf(plot: Plot, series: Series): Row['style'] {
  if (plot.kind === 'scatter') return 'points';
  return series.style ?? 'line';
}

/** A log axis of bytes spans whole powers of two around the data, with a tick at each (or every other). */
function bytesLogDomain(values: readonly number[]): { domain: [number, number]; ticks: number[] } | null {
  const positive = values.filter((v) => v > 0);
  if (positive.length === 0) return null;
  const lo = Math.floor(Math.log2(Math.min(...positive)));
  const hi = Math.max(lo + 1, Math.ceil(Math.log2(Math.max(...positive))));
  const step = Math.max(1, Math.ceil((hi - lo) / 8));
  const ticks: number[] = [];
  for (let e = lo; e <= hi; e += step) ticks.push(2 ** e);
  return { domain: [2 ** lo, 2 ** hi], ticks };
}

function axisSpec(axis: Axis, values: readonly number[]): Record<string, unknown> {
  const spec: Record<string, unknown> = { title: axis.label, labelLimit: 0, labelOverlap: true };
  const format = axis.format ?? 'number';
  const max = Math.max(0, ...values.map(Math.abs));
  if (format === 'bytes') {
    spec.labelExpr = BYTES_LABEL;
    const log = axis.log === true ? bytesLogDomain(values) : null;
    if (log !== null) spec.values = log.ticks;
  } else if (format === 'percent') spec.format = '.0%';
  else if (max >= 1e6) spec.format = '.3~s';
  else if (max >= 1e4) spec.format = ',~f';
  if (axis.integer === true) {
    // Whole numbers only, at most six ticks. (Vega's tickMinStep still lets d3 put ticks at 0.5:
    // on 0..2 it asks for 3 ticks, and d3's nicest step for 3 is 0.5.)
    const step = Math.max(1, Math.ceil(max / 5));
    spec.values = Array.from({ length: Math.floor(max / step) + 1 }, (_, i) => i * step);
    spec.format ??= 'd';
  }
  return spec;
}

function scaleSpec(axis: Axis, values: readonly number[], zero: boolean): Record<string, unknown> {
  if (axis.log === true) {
    if (axis.format === 'bytes') {
      const log = bytesLogDomain(values);
      return { type: 'log', base: 2, nice: false, ...(log === null ? {} : { domain: log.domain }) };
    }
    const positive = values.filter((v) => v > 0);
    const lo = Math.min(...positive);
    const hi = Math.max(...positive);
    return { type: 'log', nice: false, ...(positive.length > 0 && lo < hi ? { domain: [lo, hi] } : {}) };
  }
  return { zero };
}

function legend(title: string): Record<string, unknown> {
  return { title, orient: 'bottom', direction: 'vertical', columns: 1, labelLimit: 0, symbolLimit: 0 };
}

/** Whether a bar plot puts each series at its own category (one point each, no categories given). */
function barsBySeries(plot: Plot): boolean {
  return plot.categories === undefined && plot.series.every((s) => s.points.length === 1);
}

function rowsOf(plot: Plot): Row[] {
  const rows: Row[] = [];
  for (const series of plot.series) {
    for (const [x, y] of series.points) {
      if (plot.y.log === true && y <= 0) continue;
      if (plot.x.log === true && x <= 0) continue;
      const category = plot.kind !== 'bar' ? x : barsBySeries(plot) ? series.label : (plot.categories?.[x] ?? String(x));
      rows.push({ series: series.label, panel: series.panel ?? '', style: styleOf(plot, series), x: category, y });
    }
  }
  return rows;
}

/** The panels of a plot's rows, in order ([''] when its series carry none). */
function panelsOf(rows: readonly Row[]): string[] {
  return [...new Set(rows.map((r) => r.panel))];
}

function hasPanels(rows: readonly Row[]): boolean {
  return panelsOf(rows).some((p) => p !== '');
}

/**
 * A plot drawn as small multiples: `spec` once per panel, stacked, sharing the axes (unless
 * plot.panelY is 'independent'). Panels are too short for a rotated y title each: the y axis is
 * named once, under the title, and `spec` must give its y axis no title.
 */
function facetedSpec(plot: Plot, rows: Row[], spec: Record<string, unknown>): ChartSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: wrap(plot.title, TITLE_CHARS), anchor: 'start', limit: 0, subtitle: `y: ${plot.y.label}`, subtitleFontStyle: 'italic' },
    data: { values: rows },
    facet: { row: { field: 'panel', type: 'nominal', sort: panelsOf(rows), header: { title: null, labelAngle: 0, labelAlign: 'left', labelAnchor: 'start', labelOrient: 'top', labelLimit: 0 } } },
    spec: { width: CHART_WIDTH_PX, height: PANEL_HEIGHT_PX, ...spec },
    ...(plot.panelY === 'independent' ? { resolve: { scale: { y: 'independent' } } } : {}),
  } as unknown as ChartSpec;
}

/** The tooltip line of a point's y value, as a percentage where the axis is one. */
function yTooltip(plot: Plot): Record<string, unknown> {
  return { field: 'y', type: 'quantitative', title: plot.y.label, ...(plot.y.format === 'percent' ? { format: '.1%' } : {}) };
}

function barSpec(plot: Plot, rows: Row[]): ChartSpec {
  const bySeries = barsBySeries(plot);
  const categories = bySeries ? plot.series.map((s) => s.label) : (plot.categories ?? [...new Set(rows.map((r) => String(r.x)))]);
  const seriesLabels = [...new Set(plot.series.map((s) => s.label))];
  const ys = rows.map((r) => r.y);
  const seriesColor = (legendSpec: unknown) => ({ field: 'series', type: 'nominal', scale: { domain: seriesLabels }, legend: legendSpec });
  if (hasPanels(rows)) {
    // Standing bars, the categories along the bottom of each panel, the series side by side in each band.
    return facetedSpec(plot, rows, {
      mark: { type: 'bar' },
      encoding: {
        x: { field: 'x', type: 'nominal', sort: categories, scale: { domain: categories }, axis: { title: plot.x.label, labelAngle: 0, labelLimit: 0, labelOverlap: true } },
        xOffset: { field: 'series', type: 'nominal', sort: seriesLabels, scale: { domain: seriesLabels } },
        y: { field: 'y', type: 'quantitative', scale: { zero: true }, axis: { ...axisSpec(plot.y, ys), title: null } },
        color: seriesColor(legend('')),
        tooltip: [
          { field: 'panel', type: 'nominal', title: 'panel' },
          { field: 'x', type: 'nominal', title: plot.x.label },
          { field: 'series', type: 'nominal', title: 'series' },
          yTooltip(plot),
        ],
      },
    });
  }
  const encoding: Record<string, unknown> = {
    y: { field: 'x', type: 'nominal', sort: categories, scale: { domain: categories }, axis: { title: plot.x.label, labelLimit: 0 } },
    x: { field: 'y', type: 'quantitative', scale: { zero: true }, axis: axisSpec(plot.y, ys) },
    color: seriesColor(bySeries ? null : legend('')),
    tooltip: [
      { field: 'x', type: 'nominal', title: plot.x.label },
      ...(bySeries ? [] : [{ field: 'series', type: 'nominal', title: 'series' }]),
      yTooltip(plot),
    ],
  };
  if (!bySeries) encoding.yOffset = { field: 'series', type: 'nominal', sort: seriesLabels };
  const band = bySeries ? 28 : 12;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: wrap(plot.title, TITLE_CHARS), anchor: 'start', limit: 0 },
    width: CHART_WIDTH_PX - 160,
    height: { step: band },
    data: { values: rows },
    mark: { type: 'bar' },
    encoding,
  } as unknown as ChartSpec;
}

function lineSpec(plot: Plot, rows: Row[]): ChartSpec {
  const xs = rows.map((r) => r.x as number);
  const ys = rows.map((r) => r.y);
  const seriesLabels = [...new Set(plot.series.map((s) => s.label))];
  const x = { field: 'x', type: 'quantitative', title: plot.x.label, scale: scaleSpec(plot.x, xs, false), axis: axisSpec(plot.x, xs) };
  // Counts and ratios start at zero; panels with their own y ranges zoom in on their data.
  const y = { field: 'y', type: 'quantitative', title: plot.y.label, scale: scaleSpec(plot.y, ys, plot.panelY !== 'independent'), axis: axisSpec(plot.y, ys) };
  const color = { field: 'series', type: 'nominal', scale: { domain: seriesLabels }, legend: legend('') };
  const tooltip = [
    { field: 'series', type: 'nominal' },
    { field: 'x', type: 'quantitative', title: plot.x.label },
    yTooltip(plot),
  ];
  const interpolate = plot.kind === 'step' ? 'step-after' : 'linear';
  const only = (style: Row['style']) => ({ filter: { field: 'style', equal: style } });
  const used = new Set(rows.map((r) => r.style));
  const layers: Record<string, unknown>[] = [];
  if (used.has('line')) {
    layers.push({ transform: [only('line')], mark: { type: 'line', interpolate, point: { filled: true, size: 28 }, strokeWidth: 2 }, encoding: { x, y, color, tooltip } });
  }
  if (used.has('points')) {
    layers.push({ transform: [only('points')], mark: { type: 'point', filled: true, size: 50, opacity: 1 }, encoding: { x, y, color, tooltip } });
  }
  if (used.has('dashed')) {
    layers.push({ transform: [only('dashed')], mark: { type: 'line', interpolate, strokeDash: [6, 4], strokeWidth: 2 }, encoding: { x, y, color, tooltip } });
  }
  const head = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: wrap(plot.title, TITLE_CHARS), anchor: 'start', limit: 0 },
    data: { values: rows },
  };
  if (!hasPanels(rows)) return { ...head, width: CHART_WIDTH_PX, height: HEIGHT_PX, layer: layers } as unknown as ChartSpec;
  y.axis = { ...y.axis, title: null };
  return facetedSpec(plot, rows, { layer: layers });
}

/** The Vega-Lite specification of a plot, its data inline. */
export function chartSpec(plot: Plot): ChartSpec {
  const rows = rowsOf(plot);
  return plot.kind === 'bar' ? barSpec(plot, rows) : lineSpec(plot, rows);
}
