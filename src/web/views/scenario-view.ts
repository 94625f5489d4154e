/**
 * Runs a lab scenario in the page with the parameters typed into a form (the same resolution and
 * checks as the command line), and shows its answer, its charts — the report's own Vega-Lite
 * specifications (lab/chart.ts), here interactive, with tooltips — and its tables.
 */
import { View, parse } from 'vega';
import { compile } from 'vega-lite';
import { chartSpec } from '../../lab/chart.ts';
import { SCENARIOS, findScenario } from '../../lab/registry.ts';
import { runScenario } from '../../lab/run.ts';
import type { ParamInput } from '../../lab/params.ts';
import type { Cell, ParamSpec, Plot } from '../../lab/scenario.ts';
import { el, table } from './dom.ts';

/** Scenarios that need what a page may lack (a WebGPU adapter) are still listed; a failure is shown. */
export function setupScenarioView(form: HTMLFormElement, select: HTMLSelectElement, params: HTMLElement, smoke: HTMLInputElement, out: HTMLElement, seed: () => number): void {
  for (const s of SCENARIOS) select.append(el('option', { value: s.name }, s.name));
  const showParams = (): void => {
    const scenario = findScenario(select.value);
    params.replaceChildren(
      ...Object.entries(scenario.params as Record<string, ParamSpec>).map(([name, spec]) => {
        const input =
          spec.kind === 'enum'
            ? el('select', { name }, ...spec.values.map((v) => el('option', v === spec.default ? { value: v, selected: '' } : { value: v }, v)))
            : spec.kind === 'bool'
              ? el('input', spec.default ? { name, type: 'checkbox', checked: '' } : { name, type: 'checkbox' })
              : el('input', { name, value: Array.isArray(spec.default) ? spec.default.join(',') : String(spec.default), title: spec.description });
        return el('label', { title: spec.description }, `${name} `, input);
      }),
    );
  };
  select.addEventListener('change', showParams);
  showParams();
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const scenario = findScenario(select.value);
    const overrides: Record<string, ParamInput> = {};
    for (const input of params.querySelectorAll<HTMLInputElement | HTMLSelectElement>('input, select')) {
      const spec = (scenario.params as Record<string, ParamSpec>)[input.name];
      if (spec === undefined) continue;
      const value = input instanceof HTMLInputElement && input.type === 'checkbox' ? input.checked : input.value;
      // Only what the user changed is an override (so --smoke may shrink the rest, as on the command line).
      const initial = Array.isArray(spec.default) ? spec.default.join(',') : spec.default;
      if (typeof value === 'boolean' ? value !== initial : value !== String(initial)) overrides[input.name] = value;
    }
    out.replaceChildren(el('p', {}, `running ${scenario.name}…`));
    runScenario(scenario, overrides, { seed: seed(), smoke: smoke.checked })
      .then((run) => {
        out.replaceChildren(
          el('h3', {}, run.title),
          el('p', {}, run.question),
          el('div', { class: 'summary', 'data-scenario': run.scenario }, ...(run.result.answer === undefined ? [] : [el('p', {}, el('strong', {}, `Answer: ${run.result.answer}`))]), ...run.result.summary.map((line) => el('p', {}, line))),
          ...run.result.plots.map((plot) => chart(plot)),
          ...run.result.tables.map((t) =>
            el('div', { class: 'scenario-table', 'data-table': t.id }, el('h4', {}, t.title), table(t.columns.map((c) => (c.unit ? `${c.label} (${c.unit})` : c.label)), t.rows.map((row) => t.columns.map((c) => format(row[c.key] ?? null, c.digits))))),
          ),
          el('p', {}, `${run.elapsedMs.toFixed(0)} ms, seed ${run.seed}${run.smoke ? ', smoke' : ''}`),
        );
      })
      .catch((error: unknown) => out.replaceChildren(el('p', { class: 'error' }, error instanceof Error ? `${error.name}: ${error.message}` : String(error))));
  });
}

/** A plot drawn by Vega from the report's specification, in a figure that fills in when Vega is done. */
function chart(plot: Plot): HTMLElement {
  const holder = el('div', { class: 'chart' });
  // The specification carries the plot's title.
  const figure = el('figure', { class: 'scenario-chart', 'data-plot': plot.id }, holder);
  const view = new View(parse(compile(chartSpec(plot)).spec), { renderer: 'svg', container: holder, hover: true });
  void view.runAsync().then(() => figure.setAttribute('data-drawn', 'true'));
  return figure;
}

function format(cell: Cell, digits = 3): string {
  if (cell === null) return '';
  if (typeof cell === 'number') return Number.isInteger(cell) ? cell.toLocaleString() : cell.toFixed(digits);
  return String(cell);
}
