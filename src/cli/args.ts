/**
 * Command-line words → a command, its positional arguments and its options. Options are
 * `--name value`, `--name=value`, or a bare `--flag` (true); `--no-flag` is false.
 */
import { ArgumentError } from '../util/errors.ts';

export interface ParsedArgs {
  command: string;
  positional: string[];
  options: Map<string, string | boolean>;
}

export function parseArgs(argv: readonly string[], flags: ReadonlySet<string>): ParsedArgs {
  const positional: string[] = [];
  const options = new Map<string, string | boolean>();
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] ?? '';
    if (!word.startsWith('--')) {
      positional.push(word);
      continue;
    }
    const body = word.slice(2);
    if (body.length === 0) throw new ArgumentError(`'--' alone is not an option`);
    const eq = body.indexOf('=');
    if (eq >= 0) {
      options.set(body.slice(0, eq), body.slice(eq + 1));
    } else if (flags.has(body)) {
      options.set(body, true);
    } else if (body.startsWith('no-') && flags.has(body.slice(3))) {
      options.set(body.slice(3), false);
    } else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && !/^--?\d/.test(next))) {
        options.set(body, true);
      } else {
        options.set(body, next);
        i++;
      }
    }
  }
  return { command: positional.shift() ?? 'help', positional, options };
}
