/**
 * Plots as standalone SVG, drawn here so that the report needs no browser-side library and the
 * same seed gives the same bytes. Line, step, scatter and bar plots; linear or log axes.
 */
import type { Plot } from '../../lab/scenario.ts';
import { formatNumber } from '../render/format.ts';

const WIDTH = 760;
const HEIGHT = 360;
/** The legend sits in the right margin, clear of the data. */
const LEGEND_WIDTH = 190;
const MARGIN = { left: 70, right: 20 + LEGEND_WIDTH, top: 30, bottom: 50 };
const LEGEND_CHARS = 30;
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

interface Scale {
  map(v: number): number;
  ticks: number[];
}

/** Text for XML or HTML, in element content or a double-quoted attribute. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const residual = raw / magnitude;
  const nice = residual > 5 ? 10 : residual > 2 ? 5 : residual > 1 ? 2 : 1;
  return nice * magnitude;
}

function makeScale(values: number[], log: boolean, from: number, to: number, includeZero: boolean): Scale {
  if (log) {
    const positive = values.filter((v) => v > 0);
    const lo = Math.floor(Math.log10(Math.min(...positive, 1)));
    const hi = Math.ceil(Math.log10(Math.max(...positive, 10)));
    const span = Math.max(1, hi - lo);
    const ticks: number[] = [];
    for (let e = lo; e <= hi; e++) ticks.push(10 ** e);
    return { map: (v) => from + ((Math.log10(Math.max(v, 10 ** lo)) - lo) / span) * (to - from), ticks };
  }
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (includeZero) {
    lo = Math.min(lo, 0);
    hi = Math.max(hi, 0);
  }
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
    lo = 0;
    hi = 1;
  }
  if (hi === lo) {
    hi = lo + 1;
  }
  const step = niceStep(hi - lo, 6);
  lo = Math.floor(lo / step) * step;
  hi = Math.ceil(hi / step) * step;
  const ticks: number[] = [];
  for (let t = lo; t <= hi + step / 2; t += step) ticks.push(Number(t.toPrecision(12)));
  return { map: (v) => from + ((v - lo) / (hi - lo)) * (to - from), ticks };
}

/** Tick labels with SI suffixes: 1.5k, 8M, 2G; small values with their decimals. */
function tickLabel(value: number): string {
  const abs = Math.abs(value);
  if (abs > 0 && abs < 1e-3) return value.toExponential(0);
  for (const [scale, suffix] of [
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ] as const) {
    if (abs >= scale) return `${Number((value / scale).toPrecision(3))}${suffix}`;
  }
  return formatNumber(value, abs < 1 ? 3 : abs < 10 ? 2 : 0);
}

function legendLabel(label: string): string {
  return label.length <= LEGEND_CHARS ? label : `${label.slice(0, LEGEND_CHARS - 1)}…`;
}

export function renderPlotSvg(plot: Plot): string {
  const xs = plot.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = plot.series.flatMap((s) => s.points.map((p) => p[1]));
  const x = makeScale(xs.length > 0 ? xs : [0, 1], plot.x.log === true, MARGIN.left, WIDTH - MARGIN.right, plot.kind === 'bar');
  const y = makeScale(ys.length > 0 ? ys : [0, 1], plot.y.log === true, HEIGHT - MARGIN.bottom, MARGIN.top, !plot.y.log);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif" font-size="11">`);
  out.push(`<text x="${WIDTH / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">${escapeXml(plot.title)}</text>`);
  const plotBottom = HEIGHT - MARGIN.bottom;
  for (const t of y.ticks) {
    const py = y.map(t).toFixed(1);
    out.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${py}" y2="${py}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${MARGIN.left - 6}" y="${py}" text-anchor="end" dominant-baseline="middle">${tickLabel(t)}</text>`);
  }
  for (const t of x.ticks) {
    const px = x.map(t).toFixed(1);
    out.push(`<line x1="${px}" x2="${px}" y1="${plotBottom}" y2="${plotBottom + 4}" stroke="#333"/>`);
    out.push(`<text x="${px}" y="${plotBottom + 16}" text-anchor="middle">${tickLabel(t)}</text>`);
  }
  out.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${plotBottom}" y2="${plotBottom}" stroke="#333"/>`);
  out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${plotBottom}" stroke="#333"/>`);
  out.push(`<text x="${(MARGIN.left + WIDTH - MARGIN.right) / 2}" y="${HEIGHT - 12}" text-anchor="middle">${escapeXml(plot.x.label)}</text>`);
  out.push(`<text transform="translate(16 ${(MARGIN.top + plotBottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(plot.y.label)}</text>`);
  const nSeries = Math.max(1, plot.series.length);
  plot.series.forEach((series, i) => {
    const color = PALETTE[i % PALETTE.length] ?? '#000';
    const pts = series.points.map(([px, py]) => [x.map(px), y.map(py)] as const);
    if (plot.kind === 'bar') {
      const xsSorted = [...new Set(xs)].sort((a, b) => a - b);
      let gap = Infinity;
      for (let k = 1; k < xsSorted.length; k++) gap = Math.min(gap, x.map(xsSorted[k] ?? 0) - x.map(xsSorted[k - 1] ?? 0));
      const slot = Number.isFinite(gap) ? gap * 0.8 : 20;
      const w = slot / nSeries;
      const base = y.map(Math.max(0, Math.min(...y.ticks)));
      for (const [px, py] of pts) {
        const left = px - slot / 2 + i * w;
        out.push(`<rect x="${left.toFixed(1)}" y="${Math.min(py, base).toFixed(1)}" width="${w.toFixed(1)}" height="${Math.abs(base - py).toFixed(1)}" fill="${color}"/>`);
      }
    } else if (plot.kind === 'scatter') {
      for (const [px, py] of pts) out.push(`<circle cx="${px.toFixed(1)}" cy="${py.toFixed(1)}" r="2.5" fill="${color}"/>`);
    } else {
      let d = '';
      pts.forEach(([px, py], k) => {
        if (k === 0) d += `M${px.toFixed(1)},${py.toFixed(1)}`;
        else if (plot.kind === 'step') d += `H${px.toFixed(1)}V${py.toFixed(1)}`;
        else d += `L${px.toFixed(1)},${py.toFixed(1)}`;
      });
      out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.6"/>`);
    }
    const ly = MARGIN.top + 6 + i * 16;
    const lx = WIDTH - LEGEND_WIDTH;
    out.push(`<rect x="${lx}" y="${ly - 5}" width="10" height="10" fill="${color}"/>`);
    out.push(`<text x="${lx + 14}" y="${ly}" dominant-baseline="middle"><title>${escapeXml(series.label)}</title>${escapeXml(legendLabel(series.label))}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}
