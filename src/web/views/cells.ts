/**
 * Grids of coloured cells on a canvas, and their legends: the drawing the explorer's entry-level
 * views share (page-table entries, TLB entries, cache lines, guard pages). Each cell is a square of
 * `cellPx` with a one-pixel gap on its right and bottom, so that neighbours stay apart; tests read a
 * cell back at its centre pixel (`cellCentre`).
 */
import { el } from './dom.ts';

/** Fills `kinds.length` cells, `columns` a row, from (x0, y0); cell i has colour `colours[kinds[i]]`. */
export function fillCells(ctx: CanvasRenderingContext2D, x0: number, y0: number, columns: number, cellPx: number, kinds: ArrayLike<number>, colours: readonly string[]): void {
  const inner = cellPx > 2 ? cellPx - 1 : cellPx;
  for (let i = 0; i < kinds.length; i++) {
    ctx.fillStyle = colours[kinds[i] as number] ?? '#000000';
    ctx.fillRect(x0 + (i % columns) * cellPx, y0 + Math.floor(i / columns) * cellPx, inner, inner);
  }
}

/** The centre pixel of cell i of a grid drawn by fillCells. */
export function cellCentre(x0: number, y0: number, columns: number, cellPx: number, i: number): [number, number] {
  const half = Math.floor((cellPx > 2 ? cellPx - 1 : cellPx) / 2);
  return [x0 + (i % columns) * cellPx + half, y0 + Math.floor(i / columns) * cellPx + half];
}

/** A legend: a swatch and a name for each colour. */
export function legend(names: readonly string[], colours: readonly string[]): HTMLElement {
  return el(
    'div',
    { class: 'legend' },
    ...names.map((name, i) => {
      const item = el('span', {}, name);
      item.style.setProperty('--c', colours[i] ?? '#000');
      return item;
    }),
  );
}

/**
 * Reads a grid back from the canvas: how many of its `n` cells show each colour, by the colour's
 * index (a cell of no listed colour counts at index `colours.length`). Tests compare these counts,
 * taken from the pixels, with the kernel's counters.
 */
export function countCells(ctx: CanvasRenderingContext2D, x0: number, y0: number, columns: number, cellPx: number, n: number, colours: readonly string[]): number[] {
  const counts = new Array<number>(colours.length + 1).fill(0);
  if (n === 0) return counts;
  const rows = Math.ceil(n / columns);
  const image = ctx.getImageData(x0, y0, columns * cellPx, rows * cellPx);
  const keys = colours.map((c) => c.toLowerCase());
  for (let i = 0; i < n; i++) {
    const [x, y] = cellCentre(0, 0, columns, cellPx, i);
    const at = (y * image.width + x) * 4;
    const hex = `#${[0, 1, 2].map((k) => (image.data[at + k] as number).toString(16).padStart(2, '0')).join('')}`;
    const kind = keys.indexOf(hex);
    const slot = kind < 0 ? colours.length : kind;
    counts[slot] = (counts[slot] ?? 0) + 1;
  }
  return counts;
}

/** The index in `colours` of the pixel at (x, y), or `colours.length` for none of them. */
export function colourIndexAt(ctx: CanvasRenderingContext2D, x: number, y: number, colours: readonly string[]): number {
  const d = ctx.getImageData(x, y, 1, 1).data;
  const hex = `#${[0, 1, 2].map((k) => (d[k] as number).toString(16).padStart(2, '0')).join('')}`;
  const i = colours.map((c) => c.toLowerCase()).indexOf(hex);
  return i < 0 ? colours.length : i;
}

/** The canvas's 2D context, cleared to white; null where the page has none. */
export function clearedContext(canvas: HTMLCanvasElement): CanvasRenderingContext2D | null {
  const ctx = canvas.getContext('2d');
  if (ctx === null) return null;
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  return ctx;
}

/** The canvas's 2D context, to read a drawing back; an error where the page has none. */
export function readContext(canvas: HTMLCanvasElement, view: string): CanvasRenderingContext2D {
  const ctx = canvas.getContext('2d');
  if (ctx === null) throw new Error(`${view}: no 2D context to read back`);
  return ctx;
}

/** Resolves at the next animation frame, so that a long run draws as it goes. */
export function nextFrame(): Promise<void> {
  return new Promise((resolve) => requestAnimationFrame(() => resolve()));
}
