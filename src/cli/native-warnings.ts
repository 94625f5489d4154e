/**
 * Dawn (the `webgpu` package) prints two warnings from native code straight to file descriptor 2
 * whenever it opens an adapter ("maxDynamicUniformBuffersPerPipelineLayout artificially reduced …",
 * and the same for storage buffers): noise to a user, and out of JavaScript's reach. So a command
 * that may open the GPU runs in a child process whose stderr passes through this filter, which drops
 * exactly those lines and forwards everything else as it comes; `--verbose` skips the filter.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';

/** The lines dropped: Dawn's adapter-limit warnings, and nothing else. */
export const DAWN_WARNING = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?$/;

/** Set in the child, which then runs the command itself. */
const CHILD_ENV = 'KMEM_NATIVE_STDERR_FILTERED';

/** Whether this process should run the command itself rather than through the filter. */
export function runsDirectly(argv: readonly string[]): boolean {
  if (process.env[CHILD_ENV] === '1' || argv.includes('--verbose')) return true;
  if (argv.includes('-h') || argv.includes('--help')) return true;
  // Only `run` and `report` open the GPU.
  const command = argv.find((w) => !w.startsWith('-'));
  return command !== 'run' && command !== 'report';
}

/** Whether stderr is a terminal, as the child should believe (its stderr is a pipe to the filter). */
export function stderrIsTerminal(): boolean {
  return process.env[CHILD_ENV] === '1' ? process.env.KMEM_STDERR_TTY === '1' : process.stderr.isTTY === true;
}

/** Runs this same command in a child whose stderr is filtered; resolves to its exit status. */
export function runFiltered(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      stdio: ['inherit', 'inherit', 'pipe'],
      env: { ...process.env, [CHILD_ENV]: '1', KMEM_STDERR_TTY: process.stderr.isTTY === true ? '1' : '0' },
    });
    let pending = '';
    const forward = (text: string): void => {
      const lines = text.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) if (!DAWN_WARNING.test(line)) process.stderr.write(`${line}\n`);
      // A progress line in place (a carriage return, no newline yet) goes through as it comes.
      if (pending.includes('\r')) {
        process.stderr.write(pending);
        pending = '';
      }
    };
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', forward);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (pending !== '' && !DAWN_WARNING.test(pending)) process.stderr.write(pending);
      resolve(code ?? 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0)));
    });
  });
}
