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
