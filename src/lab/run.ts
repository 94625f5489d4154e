/**
 * Running a scenario: resolve its parameters, give it a context, time it, and check the shape of
 * what it returns, so that every driver gets a well-formed result.
 */
import { InvariantError } from '../util/errors.ts';
import { resolveParams } from './params.ts';
import type { ParamInput } from './params.ts';
import type { AnyScenario, ParamSpecs, ParamValues, ScenarioResult } from './scenario.ts';

export interface RunOptions {
  seed?: number;
  smoke?: boolean;
  onProgress?: (done: number, total: number, label?: string) => void;
}

export interface ScenarioRun {
  scenario: string;
  title: string;
  question: string;
  seed: number;
  smoke: boolean;
  /** The values the run used: defaults, smoke values, and what the caller passed. */
  params: Record<string, unknown>;
  /** The parameters the caller passed (the rest are defaults or smoke values). */
  passed: string[];
  result: ScenarioResult;
  elapsedMs: number;
}

export async function runScenario(
  scenario: AnyScenario,
  overrides: Readonly<Record<string, ParamInput>> = {},
  options: RunOptions = {},
): Promise<ScenarioRun> {
  const seed = options.seed ?? 1;
  const smoke = options.smoke ?? false;
  const params = resolveParams(scenario, overrides, smoke);
  const started = performance.now();
  const result = await scenario.run(params as ParamValues<ParamSpecs>, {
    seed,
    progress: (done, total, label) => options.onProgress?.(done, total, label),
  });
  checkResult(scenario.name, result);
  return {
    scenario: scenario.name,
    title: scenario.title,
    question: scenario.question,
    seed,
    smoke,
    params,
    passed: Object.keys(overrides),
    result: { ...result, answer: result.answer ?? result.summary[0] ?? '' },
    elapsedMs: performance.now() - started,
  };
}

function checkResult(name: string, result: ScenarioResult): void {
  if (result.answer !== undefined && (result.answer.includes('\n') || result.answer.trim() === '')) {
    throw new InvariantError(`scenario '${name}': the answer must be one non-empty line`);
  }
  const ids = new Set<string>();
  for (const item of [...result.tables, ...result.plots]) {
    if (ids.has(item.id)) throw new InvariantError(`scenario '${name}': two tables or plots share the id '${item.id}'`);
    ids.add(item.id);
  }
  for (const table of result.tables) {
    const keys = new Set(table.columns.map((c) => c.key));
    for (const row of table.rows) {
      for (const key of Object.keys(row)) {
        if (!keys.has(key)) throw new InvariantError(`scenario '${name}', table '${table.id}': row has key '${key}' that no column declares`);
      }
    }
  }
  for (const plot of result.plots) {
    if (plot.categories !== undefined && plot.kind !== 'bar') throw new InvariantError(`scenario '${name}', plot '${plot.id}': categories are for bar plots`);
    for (const series of plot.series) {
      if (plot.categories !== undefined && series.points.some(([x]) => plot.categories?.[x] === undefined)) {
        throw new InvariantError(`scenario '${name}', plot '${plot.id}', series '${series.label}': x is not an index into the categories`);
      }
      for (const [x, y] of series.points) {
        if (!Number.isFinite(x) || !Number.isFinite(y)) {
          throw new InvariantError(`scenario '${name}', plot '${plot.id}', series '${series.label}': non-finite point (${x}, ${y})`);
        }
      }
    }
  }
}
