/**
 * `kmem replay FILE` and `kmem trace-gen`: Linux ftrace kmem traces replayed through kmem, and
 * synthetic ones written by the seeded generator (lab/kernel-trace/).
 *
 *   kmem replay trace.txt [--json | --csv] [--ram-bytes SIZE] [--mismatches N]
 *   kmem trace-gen [--events N] [--seed N] [--format 6.x|pre-6.1] [--out FILE]
 *
 * Record a real trace on Linux with `trace-cmd record -e kmem` (or by enabling the events under
 * /sys/kernel/tracing/events/kmem/), then `trace-cmd report > trace.txt`.
 */
import { createWriteStream } from 'node:fs';
import { KMEM_TRACE_FORMATS, generateKmemTrace } from '../lab/kernel-trace/generate.ts';
import type { KmemTraceFormat } from '../lab/kernel-trace/generate.ts';
import { REPLAY_RAM_MAX_BYTES, REPLAY_RAM_MIN_BYTES, replayKmemTrace, replayRamBytesProblem } from '../lab/kernel-trace/replay.ts';
import { replayReport } from '../lab/kernel-trace/replay-tables.ts';
import { ArgumentError, KmemError } from '../util/errors.ts';
import { fileLines } from '../util/file-lines.ts';
import { formatSizeExact, parseSizeBytes } from '../util/units.ts';
import { optionHelp, parseOptions, wholeOption } from './args.ts';
import type { OptionSpecs } from './args.ts';
import { checkReadableFile } from './paths.ts';
import { renderTableCsv } from './render/csv.ts';
import { renderTableText } from './render/text.ts';

const HELP_OPTION: OptionSpecs = { help: { type: 'boolean', short: 'h', help: 'print this help and do nothing else' } };

export const REPLAY_OPTIONS: OptionSpecs = {
  json: { type: 'boolean', help: 'print the whole replay result as JSON' },
  csv: { type: 'boolean', help: "print the replay's tables as CSV" },
  'ram-bytes': { type: 'string', value: 'SIZE', help: `kmem's RAM, ${formatSizeExact(REPLAY_RAM_MIN_BYTES)}..${formatSizeExact(REPLAY_RAM_MAX_BYTES)} (default: 4 × the trace's peak, within that range)` },
  mismatches: { type: 'string', value: 'N', help: 'size-class mismatches listed line by line (default 20; the count is always exact)' },
  ...HELP_OPTION,
};

export const TRACE_GEN_OPTIONS: OptionSpecs = {
  events: { type: 'string', value: 'N', help: 'events to write (default 100000)' },
  seed: { type: 'string', value: 'N', help: 'seed of the generator (default 1)' },
  format: { type: 'string', value: 'FORMAT', help: `${KMEM_TRACE_FORMATS.join(' | ')} (default 6.x)` },
  out: { type: 'string', value: 'FILE', help: 'write the trace here (default: standard output)' },
  ...HELP_OPTION,
};

export const REPLAY_HELP = `usage: kmem replay FILE [options]

Replays a Linux ftrace kmem trace (kmalloc, kmem_cache_alloc, kfree, kmem_cache_free, mm_page_alloc,
mm_page_free; the 6.x and pre-6.1 formats) through kmem's size classes, caches and page allocator,
and the same object stream through fixed max-size slots and a general allocator. Prints whether
kmem's size class equals the trace's bytes_alloc for every kmalloc, the peaks, the waste per call
site and kmem's /proc/slabinfo at the end. Record a trace with \`trace-cmd record -e kmem\`, then
\`trace-cmd report > FILE\`; or write one with \`kmem trace-gen\`.

${optionHelp(REPLAY_OPTIONS)}`;

export const TRACE_GEN_HELP = `usage: kmem trace-gen [options]

Writes a synthetic Linux kmem trace (seeded call sites, sizes and lifetimes, in the format a traced
kernel prints) for \`kmem replay\`.

${optionHelp(TRACE_GEN_OPTIONS)}`;

export function commandReplay(argv: readonly string[]): string {
  const { values, positionals } = parseOptions(argv, REPLAY_OPTIONS, 1, 'replay');
  const file = positionals[0];
  if (file === undefined) throw new ArgumentError('replay: expected a trace file (kmem replay FILE; kmem trace-gen writes one)');
  if (values.json === true && values.csv === true) throw new ArgumentError('replay: --json and --csv are exclusive: choose one');
  checkReadableFile(file, 'replay');
  let ramBytes: number | undefined;
  if (values['ram-bytes'] !== undefined) {
    const raw = String(values['ram-bytes']);
    try {
      ramBytes = parseSizeBytes(raw);
    } catch (error) {
      throw new ArgumentError(`replay: --ram-bytes ${(error as Error).message}`);
    }
    const problem = replayRamBytesProblem(ramBytes);
    if (problem !== null) throw new ArgumentError(`replay: --ram-bytes ${raw}: ${problem}`);
  }
  const listed = wholeOption('mismatches', values.mismatches, 0, 1_000_000);
  const result = replayKmemTrace(() => fileLines(file), file, { ...(ramBytes === undefined ? {} : { ramBytes }), ...(listed === undefined ? {} : { mismatchesListed: listed }) });
  if (Object.values(result.events).every((n) => n === 0)) throw new KmemError(`replay: no kmem event in ${file} (expected lines such as 'kmalloc: call_site=… ptr=… bytes_req=…')`);
  if (values.json === true) return JSON.stringify(result, null, 2);
  const report = replayReport(result);
  if (values.csv === true) return report.tables.map((t) => `# ${t.id}\n${renderTableCsv(t)}`).join('\n\n');
  return [report.summary.join('\n'), ...report.tables.map(renderTableText), `/proc/slabinfo after the replay:\n${result.slabinfo}`].join('\n\n');
}

export async function commandTraceGen(argv: readonly string[]): Promise<string> {
  const { values } = parseOptions(argv, TRACE_GEN_OPTIONS, 0, 'trace-gen');
  const events = wholeOption('events', values.events, 1, 100_000_000) ?? 100_000;
  const seed = wholeOption('seed', values.seed, 0, 0xffffffff) ?? 1;
  const format = String(values.format ?? '6.x');
  if (!(KMEM_TRACE_FORMATS as readonly string[]).includes(format)) throw new ArgumentError(`trace-gen: --format '${format}': expected ${KMEM_TRACE_FORMATS.join(' or ')}`);
  const out = values.out;
  if (typeof out !== 'string') {
    const lines: string[] = [];
    generateKmemTrace({ seed, events, format: format as KmemTraceFormat }, (line) => lines.push(line));
    return lines.join('\n');
  }
  const stream = createWriteStream(out);
  const written = new Promise<void>((done, fail) => {
    stream.once('error', (e: NodeJS.ErrnoException) => fail(new KmemError(`trace-gen: cannot write ${out}: ${e.code ?? e.message}`)));
    stream.once('finish', done);
  });
  generateKmemTrace({ seed, events, format: format as KmemTraceFormat }, (line) => stream.write(`${line}\n`));
  stream.end();
  await written;
  return `trace written to ${out} (${events} events, ${format} format, seed ${seed})`;
}
