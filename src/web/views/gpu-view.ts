/**
 * GPU warps, live: one allocation pass of the same requests through kmem's per-lane and warp-batch
 * slab allocators, run by this page's WebGPU (lab/views/gpu-lab.ts). Each object of the arena is
 * coloured by the warp whose lane received it: warp-batch's one atomic per warp gives each warp one
 * contiguous run; per-lane takes an atomic per lane (whose objects interleave on real hardware, less so
 * on a CPU-emulated adapter that runs a warp's lanes in order). Without WebGPU in the browser the
 * view says why and draws nothing (Chromium: --enable-unsafe-webgpu).
 */
import { GPU_LAB_DESIGNS, GpuLab, MAX_GROUPS } from '../../lab/views/gpu-lab.ts';
import type { DesignPass } from '../../lab/views/gpu-lab.ts';
import { Accelerator } from '../../machine/accelerator.ts';
import { clearedContext, countCells, fillCells, legend } from './cells.ts';
import { el } from './dom.ts';

/** Free, then one colour per warp of the pass (MAX_GROUPS of them). */
export const WARP_COLOURS: readonly string[] = [
  '#eeeeee',
  '#4c78a8', '#f58518', '#e45756', '#72b7b2', '#54a24b', '#eeca3b', '#b279a2', '#ff9da6',
  '#9d755d', '#bab0ac', '#1f77b4', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#17becf',
];
const CELL_PX = 10;
const COLUMNS = 64;
/** The strip above the arena: one cell per atomic the pass issued (at most 256 lanes: four rows). */
const ATOMIC_COLOURS: readonly string[] = ['#ffffff', '#333333'];
const STRIP_ROWS = 4;
const ARENA_TOP = STRIP_ROWS * CELL_PX + 8;

export class GpuView {
  readonly root: HTMLElement;
  readonly canvases: HTMLCanvasElement[] = GPU_LAB_DESIGNS.map((d) => el('canvas', { class: 'gpu-arena', 'data-design': d }));
  lab: GpuLab | null = null;
  last: DesignPass[] = [];
  private readonly captions = GPU_LAB_DESIGNS.map(() => el('p', { class: 'summary' }));
  private readonly status = el('p', { class: 'gpu-status' }, 'Not started: the pass runs on this page\'s WebGPU adapter.');

  constructor(
    private readonly seed: () => number,
    private readonly queue: (work: () => Promise<void>) => Promise<void>,
  ) {
    const run = el('button', { id: 'gpu-run' }, 'Run a pass on this page\'s GPU');
    run.addEventListener('click', () => void this.queue(() => this.run()));
    if (MAX_GROUPS !== WARP_COLOURS.length - 1) throw new Error('GPU view: one colour per warp expected');
    this.root = el(
      'div',
      {},
      el('p', { class: 'controls' }, run),
      this.status,
      legend(['an atomic on the allocator\'s shared state', 'free object', 'objects of warp 0, 1, 2, … (one colour each)'], [ATOMIC_COLOURS[1] ?? '', WARP_COLOURS[0] ?? '', WARP_COLOURS[1] ?? '']),
      ...GPU_LAB_DESIGNS.flatMap((d, i) => [el('h3', {}, d === 'warp-batch' ? 'warp-batch: one atomic per warp (the seed\'s design)' : 'per-lane: one atomic per lane (a CPU allocator moved to the GPU)'), this.captions[i] as HTMLElement, this.canvases[i] as HTMLCanvasElement]),
    );
  }

  private async run(): Promise<void> {
    if (this.lab === null) {
      try {
        this.lab = await GpuLab.create(await Accelerator.open(), this.seed());
      } catch (error) {
        this.status.className = 'gpu-status error';
        this.status.dataset['available'] = 'false';
        this.status.textContent = `No GPU pass here: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
        return;
      }
    }
    const lab = this.lab;
    this.last = await lab.pass();
    const a = lab.allocators[0];
    this.status.className = 'gpu-status';
    this.status.dataset['available'] = 'true';
    this.status.textContent = `${lab.accelerator.adapterName}: ${lab.lanes} lanes in groups of ${a?.groupLanes ?? '?'} (${a?.path ?? '?'} path; subgroup size ${a?.subgroupSize ?? 'unknown'}, ${a?.subgroupSizeSource ?? ''}), the same requests for each design, each on an empty arena of ${lab.objects} objects. Every pass is checked against the allocator's shadow.`;
    this.last.forEach((d, i) => this.draw(d, i));
  }

  private draw(d: DesignPass, i: number): void {
    const canvas = this.canvases[i] as HTMLCanvasElement;
    canvas.width = COLUMNS * CELL_PX + 175;
    canvas.height = ARENA_TOP + Math.ceil(d.owners.length / COLUMNS) * CELL_PX;
    const ctx = clearedContext(canvas);
    if (ctx === null) return;
    fillCells(ctx, 0, 0, COLUMNS, CELL_PX, new Uint8Array(Math.min(d.pass.atomics, STRIP_ROWS * COLUMNS)).fill(1), ATOMIC_COLOURS);
    ctx.fillStyle = '#333333';
    ctx.font = '12px system-ui, sans-serif';
    ctx.fillText('← atomics, one cell each', COLUMNS * CELL_PX + 6, 12);
    ctx.fillText('← the arena, one cell', COLUMNS * CELL_PX + 6, ARENA_TOP + 12);
    ctx.fillText('   per object', COLUMNS * CELL_PX + 6, ARENA_TOP + 26);
    fillCells(ctx, 0, ARENA_TOP, COLUMNS, CELL_PX, Array.from(d.owners, (o) => o + 1), WARP_COLOURS);
    (this.captions[i] as HTMLElement).textContent =
      `${d.pass.atomics} atomics for ${d.pass.served} objects asked by ${d.activeLanes} lanes in ${d.activeGroups} warps; ` +
      `${GpuLab.runs(d.owners)} contiguous runs of one warp's objects in the arena.`;
  }

  /** Per design, read back from the canvas: atomic cells, live cells, and runs of consecutive cells of one warp colour. */
  drawn(): { atomics: number; live: number; runs: number }[] {
    return this.canvases.map((canvas, i) => {
      const ctx = canvas.getContext('2d');
      const n = this.last[i]?.owners.length ?? 0;
      if (ctx === null || n === 0) return { atomics: 0, live: 0, runs: 0 };
      const atomics = countCells(ctx, 0, 0, COLUMNS, CELL_PX, STRIP_ROWS * COLUMNS, ATOMIC_COLOURS)[1] ?? 0;
      // Each cell's colour index, read one cell at a time in address order.
      const kinds: number[] = [];
      for (let c = 0; c < n; c++) {
        const counts = countCells(ctx, (c % COLUMNS) * CELL_PX, ARENA_TOP + Math.floor(c / COLUMNS) * CELL_PX, 1, CELL_PX, 1, WARP_COLOURS);
        kinds.push(counts.findIndex((x) => x > 0));
      }
      return { atomics, live: kinds.filter((k) => k > 0).length, runs: GpuLab.runs(kinds.map((k) => k - 1)) };
    });
  }
}
