/**
 * Command-line words → options, with node:util's parseArgs (strict: an unknown option, a missing
 * value or a stray word is an error, never ignored), and its errors reworded into one line that
 * names what was expected. Options are `--name value`, `--name=value`, a bare `--flag`, and
 * `--no-flag` where a flag declares its negation.
 */
import { parseArgs } from 'node:util';
import { ArgumentError } from '../util/errors.ts';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** What the value is, for help and errors ('SIZE', 'N', 'DIR'); strings only. */
  value?: string;
  help: string;
}
export type OptionSpecs = Record<string, OptionSpec>;

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** Whether the words ask for help (-h or --help before any `--`): help is printed and nothing else done. */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const word of argv) {
    if (word === '--') return false;
    if (word === '-h' || word === '--help') return true;
  }
  return false;
}

/**
 * Parses `argv` against `specs`, allowing at most `maxPositionals` positional words. `where` names
 * the command in errors ('kmem boot').
 */
export function parseOptions(argv: readonly string[], specs: OptionSpecs, maxPositionals: number, where: string): Parsed {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, spec] of Object.entries(specs)) options[name] = spec.short === undefined ? { type: spec.type } : { type: spec.type, short: spec.short };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: joinNegativeValues(argv, specs), options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new ArgumentError(`${where}: ${reword(error, specs)}`);
  }
  if (parsed.positionals.length > maxPositionals) {
    const extra = parsed.positionals[maxPositionals] ?? '';
    throw new ArgumentError(`${where}: unexpected argument '${extra}'${maxPositionals === 0 ? ': this command takes options only' : ''}`);
  }
  return { values: parsed.values as Parsed['values'], positionals: parsed.positionals };
}

/** A word that is a negative number ('-1', '-1MiB', '-.5'), never an option: no option starts with a digit. */
const NEGATIVE_NUMBER = /^-\.?\d/;

/**
 * `--seed -1` → `--seed=-1`: parseArgs takes a value that starts with a dash for a missing one (and
 * says '--seed needs a value'); a negative number after an option that takes a value is its value,
 * which the option's own check then accepts or refuses by name ('--seed -1: expected …').
 */
function joinNegativeValues(argv: readonly string[], specs: OptionSpecs): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] as string;
    if (word === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    const name = word.startsWith('--') ? word.slice(2) : word.length === 2 && word.startsWith('-') ? Object.keys(specs).find((n) => specs[n]?.short === word.slice(1)) : undefined;
    if (name !== undefined && specs[name]?.type === 'string' && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      out.push(`--${name}=${next}`);
      i++;
    } else {
      out.push(word);
    }
  }
  return out;
}

function names(specs: OptionSpecs): string {
  return Object.keys(specs)
    .map((n) => `--${n}`)
    .join(', ');
}

function reword(error: unknown, specs: OptionSpecs): string {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  const option = /'(-[^' ]+)/.exec(message)?.[1] ?? '?';
  const name = option.replace(/^-+/, '');
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option '${option}': expected one of ${names(specs)}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const spec = specs[name] ?? Object.entries(specs).find(([, s]) => s.short === name)?.[1];
      if (spec?.type === 'boolean') return `${option} is a flag and takes no value`;
      return `${option} needs a value${spec?.value === undefined ? '' : ` (${spec.value})`}`;
    }
    default:
      return message.split('\n')[0] ?? message;
  }
}

/** Help lines for options: `  --ram-bytes SIZE   RAM of the emulated machine`. */
export function optionHelp(specs: OptionSpecs): string {
  const rows = Object.entries(specs).map(([name, spec]) => [`${spec.short === undefined ? '    ' : `-${spec.short}, `}--${name}${spec.value === undefined ? '' : ` ${spec.value}`}`, spec.help] as const);
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, help]) => `  ${left.padEnd(width)}  ${help}`).join('\n');
}

/**
 * A whole-number option's value: `fallback` when absent, else the number, which must lie in
 * [min, max]; an ArgumentError naming the option, the value and the range otherwise.
 */
export function wholeOption(name: string, raw: string | boolean | undefined, min: number, max: number | undefined, fallback: number): number;
export function wholeOption(name: string, raw: string | boolean | undefined, min: number, max?: number): number | undefined;
export function wholeOption(name: string, raw: string | boolean | undefined, min: number, max?: number, fallback?: number): number | undefined {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isSafeInteger(value) || value < min || (max !== undefined && value > max)) {
    const range = max !== undefined ? ` in [${min}, ${max}]` : min === 0 ? '' : ` ≥ ${min}`;
    throw new ArgumentError(`--${name} ${String(raw)}: expected a whole number${range}`);
  }
  return value;
}

/** A script's usage error (npm run fuzz, bench…): `where: message` on stderr, exit status 2. */
export function scriptUsageError(where: string, message: string): never {
  process.stderr.write(`${where}: ${message}\n`);
  process.exit(2);
}

/**
 * The options of a script run with npm (npm run fuzz, npm run flash:crash-sweep…), as the kmem
 * command treats its own: -h/--help prints `usage` and the options and exits 0 before anything
 * runs; an unknown option, a missing value or a stray word is one line `where: …` and exit 2.
 * `check` turns the values into what the script needs; an ArgumentError it throws is a usage error
 * too.
 */
export function scriptOptions<T>(argv: readonly string[], specs: OptionSpecs, where: string, usage: string, check: (values: Parsed['values']) => T): T {
  if (wantsHelp(argv)) {
    process.stdout.write(`${usage}\n\n${optionHelp(specs)}\n`);
    process.exit(0);
  }
  try {
    return check(parseOptions(argv, specs, 0, where).values);
  } catch (error) {
    if (!(error instanceof ArgumentError)) throw error;
    scriptUsageError(where, error.message.startsWith(`${where}: `) ? error.message.slice(where.length + 2) : error.message);
  }
}
