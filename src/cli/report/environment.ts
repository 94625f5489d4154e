/**
 * Where and when a report was made: the page holds wall-clock tables, which mean little without the
 * machine, the Node.js version, the commit and the GPU adapter they came from.
 */
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import type { ScenarioRun } from '../../lab/run.ts';

export interface Environment {
  date: string;
  commit: string;
  cpuModel: string;
  cores: number;
  node: string;
  gpuAdapter: string;
}

/** The checked-out commit (with '+ changes' when the tree differs from it), or why there is none. */
function commitOf(cwd: string): string {
  const head = spawnSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd, encoding: 'utf8' });
  if (head.status !== 0) return 'unknown (not a git checkout)';
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, encoding: 'utf8' });
  return `${head.stdout.trim()}${dirty.status === 0 && dirty.stdout.trim() !== '' ? ' + uncommitted changes' : ''}`;
}

/**
 * The adapter the runs used: scenarios that open one report it in a table with the id 'adapter' and
 * a column 'adapter' (gpu-warp-slab does).
 */
function adapterOf(runs: readonly ScenarioRun[]): string {
  for (const run of runs) {
    const table = run.result.tables.find((t) => t.id === 'adapter');
    const value = table?.rows[0]?.adapter;
    if (typeof value === 'string') return value;
  }
  return 'none used by these scenarios';
}

export function environment(runs: readonly ScenarioRun[], cwd: string, now = new Date()): Environment {
  const cpu = cpus();
  return {
    date: now.toISOString().replace(/\.\d+Z$/, 'Z'),
    commit: commitOf(cwd),
    cpuModel: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    node: process.version,
    gpuAdapter: adapterOf(runs),
  };
}
