/**
 * Parameter resolution: defaults, overrides from the command line (strings) or from code (typed
 * values), validation. A bad name or value is a ParamError that names the valid choices.
 */
import { ArgumentError } from '../util/errors.ts';
import { formatSizeExact, parseSizeBytes } from '../util/units.ts';
import type { AnyScenario, ParamSpec, ParamSpecs, ParamValues } from './scenario.ts';

export class ParamError extends ArgumentError {
  override name = 'ParamError';
}

export type ParamInput = string | number | boolean | readonly number[];

/**
 * The scenario's parameters: its defaults (its smoke values, for a smoke run) with `overrides`
 * applied and checked, each alone and then against each other (the scenario's `check`).
 */
export function resolveParams(scenario: AnyScenario, overrides: Readonly<Record<string, ParamInput>> = {}, smoke = false): Record<string, unknown> {
  const specs = scenario.params as ParamSpecs;
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) values[name] = spec.default;
  if (smoke && scenario.smoke !== undefined) Object.assign(values, scenario.smoke);
  for (const [name, input] of Object.entries(overrides)) {
    const spec = specs[name];
    if (spec === undefined) {
      const valid = Object.keys(specs);
      throw new ParamError(
        `scenario '${scenario.name}' has no parameter '${name}': expected one of ${valid.length > 0 ? valid.map((v) => `--${kebab(v)}`).join(', ') : '(none)'}`,
      );
    }
    values[name] = parseParam(scenario.name, name, spec, input);
  }
  const problem = scenario.check?.(values as ParamValues<ParamSpecs>) ?? null;
  if (problem !== null) throw new ParamError(`scenario '${scenario.name}': ${problem}`);
  return values;
}

export function parseParam(scenarioName: string, name: string, spec: ParamSpec, input: ParamInput): unknown {
  const where = `scenario '${scenarioName}', --${kebab(name)}`;
  switch (spec.kind) {
    case 'enum': {
      const value = String(input);
      if (!spec.values.includes(value)) throw new ParamError(`${where}: '${value}' is not one of ${spec.values.join(', ')}`);
      return value;
    }
    case 'string':
      return String(input);
    case 'bool': {
      if (typeof input === 'boolean') return input;
      const text = String(input).toLowerCase();
      if (['true', 'yes', 'on', '1'].includes(text)) return true;
      if (['false', 'no', 'off', '0'].includes(text)) return false;
      throw new ParamError(`${where}: '${String(input)}' is not a boolean: expected true or false`);
    }
    case 'numbers': {
      const items = Array.isArray(input) ? (input as readonly number[]) : String(input).split(',').map((s) => s.trim());
      if (items.length === 0) throw new ParamError(`${where}: expected a comma-separated list of numbers`);
      return items.map((item) => checkNumber(where, Number(item), spec.min, spec.max, false, String(item), String, spec.multipleOf));
    }
    case 'size': {
      let bytes: number;
      try {
        bytes = parseSizeBytes(typeof input === 'number' ? input : String(input));
      } catch (error) {
        throw new ParamError(`${where}: ${(error as Error).message}`);
      }
      return checkNumber(where, bytes, spec.min, spec.max, true, String(input), formatSizeExact, spec.multipleOf);
    }
    case 'int':
      return checkNumber(where, Number(input), spec.min, spec.max, true, String(input));
    case 'number':
      return checkNumber(where, Number(input), spec.min, spec.max, false, String(input));
  }
}

function checkNumber(
  where: string,
  value: number,
  min: number | undefined,
  max: number | undefined,
  integer: boolean,
  text: string,
  show: (n: number) => string = String,
  multipleOf?: number,
): number {
  if (!Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new ParamError(`${where}: '${text}' is not ${integer ? 'an integer' : 'a number'}`);
  }
  if ((min !== undefined && value < min) || (max !== undefined && value > max)) {
    throw new ParamError(`${where}: ${text} is out of range: expected ${min === undefined ? '-∞' : show(min)} ≤ value ≤ ${max === undefined ? '∞' : show(max)}`);
  }
  if (multipleOf !== undefined && value % multipleOf !== 0) {
    throw new ParamError(`${where}: ${text} is not a multiple of ${show(multipleOf)}`);
  }
  return value;
}

/** camelCase → kebab-case, as parameters are spelled on the command line. */
export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** kebab-case → camelCase. */
export function camel(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
