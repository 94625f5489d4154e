/**
 * Plots → SVG, through lab/chart.ts's Vega-Lite specification and Vega's runtime, headless in Node
 * (no DOM, no canvas: Vega estimates text widths). Each mark that Vega describes for screen readers
 * (aria-label: "series: …; x: …; y: …") also gets an SVG <title>, which browsers show as a tooltip, so
 * the static report has tooltips without any script.
 */
import { View, Warn, logger, parse } from 'vega';
import { compile } from 'vega-lite';
import { chartSpec } from '../../lab/chart.ts';
import type { Plot } from '../../lab/scenario.ts';

/**
 * Vega-Lite's warnings about a specification (a scale property it drops, an encoding it ignores):
 * collected instead of printed, so that the test can require none.
 */
export const chartWarnings: string[] = [];

function collectingLogger(): ReturnType<typeof logger> {
  const base = logger(Warn);
  const keep = (...args: readonly unknown[]) => {
    chartWarnings.push(args.map(String).join(' '));
    return base;
  };
  return Object.assign(base, { warn: keep, info: () => base, debug: () => base });
}

/** A Vega view of the plot, run to completion with no renderer: its scenegraph is what is drawn. */
export async function chartView(plot: Plot): Promise<View> {
  const view = new View(parse(compile(chartSpec(plot), { logger: collectingLogger() }).spec), { renderer: 'none', logger: collectingLogger() });
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
