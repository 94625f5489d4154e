/**
 * Plots → SVG, through lab/chart.ts's Vega-Lite specification and Vega's runtime, headless in Node
 * (no DOM, no canvas: Vega estimates text widths). Each mark that Vega describes for screen readers
 * (aria-label: "series: …; x: …; y: …") also gets an SVG <title>, which browsers show as a tooltip, so
 * the static report has tooltips without any script.
 *
 * vega and vega-lite are optional dependencies (`npm install --omit=optional` leaves them out): they
 * are loaded on the first chart (util/optional-module.ts), so that every command that draws none
 * works without them.
 */
import type * as VegaModule from 'vega';
import type { View, logger } from 'vega';
import type * as VegaLiteModule from 'vega-lite';
import { chartSpec } from '../../lab/chart.ts';
import { OptionalModule } from '../../util/optional-module.ts';
import type { Plot } from '../../lab/scenario.ts';

/**
 * Vega-Lite's warnings about a specification (a scale property it drops, an encoding it ignores):
 * collected instead of printed, so that the test can require none.
 */
export const chartWarnings: string[] = [];

type Vega = typeof VegaModule;
type VegaLite = typeof VegaLiteModule;
let libraries: Promise<[OptionalModule<Vega>, OptionalModule<VegaLite>]> | null = null;

/** vega and vega-lite, imported once; a typed error naming the package where one is missing. */
async function chartLibraries(): Promise<{ vega: Vega; vegaLite: VegaLite }> {
  libraries ??= Promise.all([OptionalModule.load('vega', () => import('vega')), OptionalModule.load('vega-lite', () => import('vega-lite'))]);
  const [vega, vegaLite] = await libraries;
  const forWhat = "drawing the report's charts";
  return { vega: vega.get(forWhat), vegaLite: vegaLite.get(forWhat) };
}

function collectingLogger(vega: Vega): ReturnType<typeof logger> {
  const base = vega.logger(vega.Warn);
  const keep = (...args: readonly unknown[]) => {
    chartWarnings.push(args.map(String).join(' '));
    return base;
  };
  return Object.assign(base, { warn: keep, info: () => base, debug: () => base });
}

/** A Vega view of the plot, run to completion with no renderer: its scenegraph is what is drawn. */
export async function chartView(plot: Plot): Promise<View> {
  const { vega, vegaLite } = await chartLibraries();
  const view = new vega.View(vega.parse(vegaLite.compile(chartSpec(plot), { logger: collectingLogger(vega) }).spec), { renderer: 'none', logger: collectingLogger(vega) });
  await view.runAsync();
  return view;
}

/** Adds a <title> child (a tooltip) to every self-closing element that carries an aria-label. */
function tooltips(svg: string): string {
  return svg.replace(/<(path|rect|circle|line|text)([^>]*?)aria-label="([^"]*)"([^>]*?)\/>/g, (_m, tag: string, before: string, label: string, after: string) => {
    return `<${tag}${before}aria-label="${label}"${after}><title>${label}</title></${tag}>`;
  });
}

/** The plot as a standalone <svg> element that scales down to its container. */
export async function renderChartSvg(plot: Plot): Promise<string> {
  const view = await chartView(plot);
  const svg = await view.toSVG();
  view.finalize();
  return tooltips(svg).replace(/^<svg /, '<svg style="max-width:100%;height:auto" ');
}
