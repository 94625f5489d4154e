/**
 * What a scenario is: one question from the seed essay, typed parameters with defaults, and a run
 * that builds a machine and a kernel, drives a workload through the public API, and returns tables
 * and plots. The CLI, the HTML report and the explorer only render what scenarios return.
 *
 *   export const myScenario = defineScenario({
 *     name: 'my-scenario',
 *     title: 'What it measures',
 *     question: 'The question from the seed it answers',
 *     params: { ramBytes: { kind: 'size', default: 64 << 20, description: 'RAM' } },
 *     run(params, ctx) { ...; return { summary: [...], tables: [...], plots: [...] }; },
 *   });
 *
 * A run is deterministic for a given seed (ctx.seed), except tables and plots marked `timing`, whose
 * figures come from the wall clock, and those marked `scheduling`, whose figures depend on how
 * concurrent hardware interleaved (which GPU warp's atomic landed first). A smoke run is a quick
 * check: the scenario's `smoke` values replace the defaults of the parameters the user did not pass,
 * so the parameters reported are the ones used. run() is not told that it is a smoke run (the
 * context has no such flag): whatever a smoke run shrinks must be a parameter with a smoke value,
 * so a parameter the user passed is honoured and what is reported is what ran
 * (test/lab/scenarios.test.ts runs each scenario's smoke parameters without --smoke and compares).
 */

interface ParamBase<T> {
  description: string;
  default: T;
}
export interface IntParam extends ParamBase<number> {
  kind: 'int';
  min?: number;
  max?: number;
}
export interface NumberParam extends ParamBase<number> {
  kind: 'number';
  min?: number;
  max?: number;
}
/** Bytes; accepts units on the command line ('64MiB'). */
export interface SizeParam extends ParamBase<number> {
  kind: 'size';
  min?: number;
  max?: number;
  /** The size must be a multiple of this (a RAM size: the 4 KiB page). */
  multipleOf?: number;
}
export interface EnumParam<V extends string = string> extends ParamBase<V> {
  kind: 'enum';
  values: readonly V[];
}
export interface BoolParam extends ParamBase<boolean> {
  kind: 'bool';
}
/** A comma-separated list of numbers on the command line ('1.07,1.1,1.2'). */
export interface NumberListParam extends ParamBase<readonly number[]> {
  kind: 'numbers';
  min?: number;
  max?: number;
  /** Every number must be a multiple of this. */
  multipleOf?: number;
}
/** Free text, such as a file path ('' when not given). */
export interface StringParam extends ParamBase<string> {
  kind: 'string';
  /** A path to a file the run reads: the command line checks it can be read before running. */
  file?: boolean;
  /** What such a file holds, named in the error that refuses one ('the output of …'). */
  fileHolds?: string;
}
export type ParamSpec = IntParam | NumberParam | SizeParam | EnumParam | BoolParam | NumberListParam | StringParam;
export type ParamSpecs = Record<string, ParamSpec>;

type ValueOf<S> = S extends EnumParam<infer V>
  ? V
  : S extends StringParam
    ? string
    : S extends BoolParam
    ? boolean
    : S extends NumberListParam
      ? readonly number[]
      : number;
export type ParamValues<P extends ParamSpecs> = { [K in keyof P]: ValueOf<P[K]> };

export interface RunContext {
  /** Seeds every PRNG of the run. */
  readonly seed: number;
  /** Reports progress; the CLI shows it on stderr (one line per phase when stderr is not a terminal). */
  progress(done: number, total: number, label?: string): void;
}

export interface Column {
  key: string;
  label: string;
  unit?: string;
  /** Digits after the point when the value is a non-integer number. Default 3. */
  digits?: number;
}
export type Cell = string | number | boolean | null;
export interface Table {
  id: string;
  title: string;
  columns: Column[];
  rows: Record<string, Cell>[];
  note?: string;
  /** Figures from the wall clock: not reproducible, left out of determinism checks. */
  timing?: boolean;
  /** Measured figures that depend on the hardware's interleaving of concurrent work: not reproducible. */
  scheduling?: boolean;
}

export interface Series {
  label: string;
  points: [number, number][];
  /**
   * How the series is drawn where the plot's kind does not say: 'line' (a line with a marker per
   * point, the default for line plots), 'points' (markers only: measurements beside a model), or
   * 'dashed' (a dashed line without markers: a model, an ideal, a reference).
   */
  style?: 'line' | 'points' | 'dashed';
  /**
   * Plots whose series carry a panel are drawn as small multiples, one panel per name, sharing the
   * axes: series that would coincide in one panel (a design on its ideal) each stay visible. Bar
   * plots with panels stand their bars up, the categories along the bottom of each panel (short
   * names: rounds, sizes), the series side by side in each category's band.
   */
  panel?: string;
}
export interface Axis {
  label: string;
  log?: boolean;
  /** How tick labels read: plain numbers (default), binary byte units, or percent of 1. */
  format?: 'number' | 'bytes' | 'percent';
  /** The values are counts: ticks at whole numbers only (no 0.5 events). */
  integer?: boolean;
}
/**
 * A plot is data, not drawing: lab/chart.ts turns it into a Vega-Lite specification, which the
 * report renders to SVG and a browser can run interactively.
 */
export interface Plot {
  id: string;
  title: string;
  kind: 'line' | 'step' | 'scatter' | 'bar';
  x: Axis;
  y: Axis;
  series: Series[];
  /**
   * Bars: the x axis is categorical with these names, and a point's x is an index into them. Without
   * it, a bar plot whose series have one point each puts each series at its own category (its label).
   */
  categories?: string[];
  /**
   * Panels (small multiples): 'shared' y axes compare panels (the default); 'independent' gives
   * each panel its own y range, so two close series inside a panel stay apart.
   */
  panelY?: 'shared' | 'independent';
  note?: string;
  timing?: boolean;
  scheduling?: boolean;
}

export interface ScenarioResult {
  /**
   * The run's answer to the scenario's question, in one line computed from its results (the report
   * prints it first, as "Answer: …"). Optional for compatibility; without it the first summary line
   * serves.
   */
  answer?: string;
  /** A few lines stating what the run found, with the figures. */
  summary: string[];
  tables: Table[];
  plots: Plot[];
}

export interface Scenario<P extends ParamSpecs = ParamSpecs> {
  /** kebab-case, as typed on the command line. */
  name: string;
  title: string;
  /** The question from the seed essay this scenario answers. */
  question: string;
  params: P;
  /**
   * Its figures include wall-clock or scheduling measurements (tables or plots marked `timing` or
   * `scheduling`): the report runs it alone, never beside another scenario in a worker thread, so
   * that nothing else competes for the CPUs while it measures (lab/parallel-runs.ts).
   */
  wallClock?: boolean;
  /**
   * The values a --smoke run uses for the parameters the user did not pass (a parameter the user
   * passed is never overridden). The run reports the values it actually used.
   */
  smoke?: Partial<ParamValues<P>>;
  /**
   * Checks parameters against each other (payload mean ≤ max, shares summing to at most 1) and
   * returns what is wrong in one line, or null. Single parameters are checked by their specs.
   */
  check?(params: ParamValues<P>): string | null;
  run(params: ParamValues<P>, ctx: RunContext): ScenarioResult | Promise<ScenarioResult>;
}

/** Tables and plots whose figures may differ between two runs with the same seed. */
export function isReproducible(item: { timing?: boolean; scheduling?: boolean }): boolean {
  return item.timing !== true && item.scheduling !== true;
}

/** Why a table's or plot's figures may differ between two runs with the same seed (the mark every renderer shows beside its title), or null. */
export function variabilityMark(item: { timing?: boolean; scheduling?: boolean }): string | null {
  if (item.timing === true) return 'wall-clock';
  if (item.scheduling === true) return 'depends on scheduling: varies run to run';
  return null;
}

/** Declares a scenario with its parameter types inferred from `params`. */
export function defineScenario<P extends ParamSpecs>(scenario: Scenario<P>): Scenario<P> {
  return scenario;
}

/** A scenario of any parameter shape, as the registry and the drivers hold them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyScenario = Scenario<any>;
