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
 * concurrent hardware interleaved (which GPU warp's atomic landed first). With ctx.smoke the run
 * shrinks its workload to a quick check.
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
}
export type ParamSpec = IntParam | NumberParam | SizeParam | EnumParam | BoolParam | NumberListParam;
export type ParamSpecs = Record<string, ParamSpec>;

type ValueOf<S> = S extends EnumParam<infer V>
  ? V
  : S extends BoolParam
    ? boolean
    : S extends NumberListParam
      ? readonly number[]
      : number;
export type ParamValues<P extends ParamSpecs> = { [K in keyof P]: ValueOf<P[K]> };

export interface RunContext {
  /** Seeds every PRNG of the run. */
  readonly seed: number;
  /** A quick, shrunken run that checks the scenario works (CI), not one whose figures mean much. */
  readonly smoke: boolean;
  /** Reports progress; shown on stderr only when it is a terminal. */
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
}
export interface Axis {
  label: string;
  log?: boolean;
}
export interface Plot {
  id: string;
  title: string;
  kind: 'line' | 'step' | 'scatter' | 'bar';
  x: Axis;
  y: Axis;
  series: Series[];
  note?: string;
  timing?: boolean;
  scheduling?: boolean;
}

export interface ScenarioResult {
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
  run(params: ParamValues<P>, ctx: RunContext): ScenarioResult | Promise<ScenarioResult>;
}

/** Tables and plots whose figures may differ between two runs with the same seed. */
export function isReproducible(item: { timing?: boolean; scheduling?: boolean }): boolean {
  return item.timing !== true && item.scheduling !== true;
}

/** Declares a scenario with its parameter types inferred from `params`. */
export function defineScenario<P extends ParamSpecs>(scenario: Scenario<P>): Scenario<P> {
  return scenario;
}

/** A scenario of any parameter shape, as the registry and the drivers hold them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyScenario = Scenario<any>;
