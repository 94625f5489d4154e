/**
 * Physical memory as a map of page frames, one cell per pfn, coloured by what the frame is doing
 * (lab/views/frame-map.ts), with pageblock boundaries; hovering a frame shows its struct page.
 */
import { FRAME_STATE_NAMES, frameMap } from '../../lab/views/frame-map.ts';
import { PAGEBLOCK_NR_PAGES, PageFlag } from '../../mm/types.ts';
import { MIGRATETYPE_NAMES } from '../../mm/types.ts';
import type { Kernel } from '../../mm/kernel.ts';
import { pcpFlagsCpu } from '../../mm/pcp.ts';
import { el } from './dom.ts';
import { legend } from './cells.ts';

/** One colour per FrameState, in its order (hex, without alpha). */
export const FRAME_COLOURS: readonly string[] = ['#555555', '#f2c6c6', '#d6ecd2', '#fbe7b5', '#4c78a8', '#e45756', '#54a24b', '#eeca3b', '#b279a2', '#9ecae9'];
const COLUMNS = 128;
const CELL_PX = 4;

function rgb(hex: string): [number, number, number] {
  return [Number.parseInt(hex.slice(1, 3), 16), Number.parseInt(hex.slice(3, 5), 16), Number.parseInt(hex.slice(5, 7), 16)];
}

const FLAG_NAMES = Object.entries(PageFlag) as [string, number][];

export class FrameView {
  readonly root: HTMLElement;
  readonly canvas: HTMLCanvasElement;
  private map: Uint8Array;

  constructor(
    private readonly kernel: Kernel,
    private readonly info: HTMLElement,
  ) {
    const n = kernel.memMap.nrPages;
    this.map = new Uint8Array(n);
    this.canvas = el('canvas', { width: String(COLUMNS * CELL_PX), height: String(Math.ceil(n / COLUMNS) * CELL_PX), 'data-frames': String(n) });
    this.root = el('div', {}, this.canvas, legend(FRAME_STATE_NAMES, FRAME_COLOURS));
    this.canvas.addEventListener('mousemove', (e) => this.hover(e));
  }

  /** Frames in each state, as drawn (the census tests compare with the kernel's counters). */
  census(): number[] {
    const counts = new Array<number>(FRAME_STATE_NAMES.length).fill(0);
    for (const state of this.map) counts[state] = (counts[state] ?? 0) + 1;
    return counts;
  }

  draw(): void {
    frameMap(this.kernel, this.map);
    const ctx = this.canvas.getContext('2d');
    if (ctx === null) return;
    const image = ctx.createImageData(this.canvas.width, this.canvas.height);
    const colours = FRAME_COLOURS.map(rgb);
    const stride = this.canvas.width * 4;
    for (let pfn = 0; pfn < this.map.length; pfn++) {
      const [r, g, b] = colours[this.map[pfn] as number] ?? [0, 0, 0];
      const x0 = (pfn % COLUMNS) * CELL_PX;
      const y0 = Math.floor(pfn / COLUMNS) * CELL_PX;
      // A pageblock starts every PAGEBLOCK_NR_PAGES / COLUMNS rows: darken its first row of pixels.
      const blockEdge = pfn % PAGEBLOCK_NR_PAGES < COLUMNS;
      for (let dy = 0; dy < CELL_PX; dy++) {
        const shade = blockEdge && dy === 0 ? 0.55 : 1;
        for (let dx = 0; dx < CELL_PX; dx++) {
          const i = (y0 + dy) * stride + (x0 + dx) * 4;
          image.data[i] = r * shade;
          image.data[i + 1] = g * shade;
          image.data[i + 2] = b * shade;
          image.data[i + 3] = 255;
        }
      }
    }
    ctx.putImageData(image, 0, 0);
  }

  private hover(event: MouseEvent): void {
    const rect = this.canvas.getBoundingClientRect();
    const scale = this.canvas.width / rect.width;
    const x = Math.floor(((event.clientX - rect.left) * scale) / CELL_PX);
    const y = Math.floor(((event.clientY - rect.top) * scale) / CELL_PX);
    const pfn = y * COLUMNS + x;
    if (x < 0 || x >= COLUMNS || pfn < 0 || pfn >= this.map.length) return;
    const m = this.kernel.memMap;
    const flags = m.flags[pfn] as number;
    // A page on a per-CPU list names its CPU in its flags (mm/pcp.ts, pcpPageFlags).
    const names = FLAG_NAMES.filter(([, bit]) => (flags & bit) !== 0).map(([name]) => (name === 'Pcp' ? `Pcp (CPU ${pcpFlagsCpu(flags, this.kernel.cpus)})` : name));
    const rows: [string, string][] = [
      ['pfn', `${pfn} (0x${pfn.toString(16)})`],
      ['paddr', `0x${(pfn * 4096).toString(16)}`],
      ['state', FRAME_STATE_NAMES[this.map[pfn] as number] ?? '?'],
      ['flags', names.length > 0 ? names.join(' | ') : '0'],
      ['order', String(m.order[pfn])],
      ['refcount', String(m.refcount[pfn])],
      ['mapcount', String(m.mapcount[pfn])],
      ['owner', `0x${(m.owner[pfn] as number).toString(16)}`],
      ['private', `0x${((m.private[pfn] as number) >>> 0).toString(16)}`],
      ['pageblock', `${Math.floor(pfn / PAGEBLOCK_NR_PAGES)}: ${MIGRATETYPE_NAMES[this.kernel.pages.pageblockMt[Math.floor(pfn / PAGEBLOCK_NR_PAGES)] as number] ?? '?'}`],
    ];
    this.info.replaceChildren(el('h2', {}, 'struct page'), el('table', {}, ...rows.map(([k, v]) => el('tr', {}, el('th', {}, k), el('td', {}, v)))));
  }
}
