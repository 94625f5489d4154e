/**
 * Replays a Linux kmem trace in the page: a file the user picks, or one the seeded generator writes;
 * shows the replay's checks, the designs' peaks, the waste per call site and kmem's slabinfo.
 */
import { generateKmemTrace } from '../../lab/kernel-trace/generate.ts';
import { replayKmemTrace } from '../../lab/kernel-trace/replay.ts';
import type { ReplayResult } from '../../lab/kernel-trace/replay.ts';
import { textLines } from '../../util/lines.ts';
import { formatBytes } from '../../util/units.ts';
import { el, table } from './dom.ts';

export function setupTraceView(file: HTMLInputElement, generate: HTMLButtonElement, out: HTMLElement, seed: () => number): void {
  const replay = (text: string, name: string): void => {
    try {
      show(replayKmemTrace(() => textLines(text), name), out);
    } catch (error) {
      out.replaceChildren(el('p', { class: 'error' }, error instanceof Error ? `${error.name}: ${error.message}` : String(error)));
    }
  };
  file.addEventListener('change', () => {
    const picked = file.files?.[0];
    if (picked !== undefined) void picked.text().then((text) => replay(text, picked.name));
  });
  generate.addEventListener('click', () => {
    const lines: string[] = [];
    generateKmemTrace({ seed: seed(), events: 50_000, format: '6.x' }, (line) => lines.push(line));
    replay(lines.join('\n'), `generated (seed ${seed()})`);
  });
}

function show(r: ReplayResult, out: HTMLElement): void {
  const events = Object.entries(r.events).map(([k, v]) => `${k} ${v.toLocaleString()}`).join(', ');
  out.replaceChildren(
    el(
      'div',
      { class: 'summary', 'data-kmalloc-checked': String(r.kmallocChecked), 'data-kmalloc-mismatches': String(r.kmallocMismatches) },
      el('p', {}, `${r.source}: ${r.lines.toLocaleString()} lines; ${events}.`),
      el('p', {}, `kmalloc size classes: ${r.kmallocChecked - r.kmallocMismatches} of ${r.kmallocChecked} equal the trace's bytes_alloc. Frees of pointers never allocated: ${r.unknownFrees}; kfree(NULL): ${r.nullFrees}.`),
    ),
    table(['design', 'peak memory', 'failed'], r.designs.map((d) => [d.design, formatBytes(d.peakBytes), d.failed])),
    el('p', {}, `peak bytes requested ${formatBytes(r.peakRequestedBytes)}; largest request ${formatBytes(r.largestRequestBytes)}`),
    el('h4', {}, 'Waste per call site (bytes_alloc − bytes_req)'),
    table(['call site', 'allocs', 'requested', 'trace waste', 'kmem waste'], r.callSites.slice(0, 15).map((s) => [s.callSite, s.allocs, s.bytesReq, s.bytesAllocTrace - s.bytesReq, s.bytesAllocKmem - s.bytesReq])),
    el('h4', {}, '/proc/slabinfo after the replay'),
    el('pre', { class: 'slabinfo' }, r.slabinfo),
  );
}
