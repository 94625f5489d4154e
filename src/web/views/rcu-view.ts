/**
 * RCU over time: three reader CPUs' read-side sections, the grace periods that end, and the
 * kfree_rcu objects waiting, one column per step (lab/views/rcu-lab.ts). Stall a reader and the
 * grace periods stop while the pending frees pile up; free at once instead of kfree_rcu and readers
 * reach freed nodes.
 */
import { HISTORY_STEPS, READERS, READER_STATE_NAMES, RcuLab } from '../../lab/views/rcu-lab.ts';
import type { RetireMode } from '../../lab/views/rcu-lab.ts';
import { clearedContext, colourIndexAt, countCells, legend, nextFrame, readContext } from './cells.ts';
import { el } from './dom.ts';

/** Reader states: quiescent, reading, stalled, use-after-free. */
export const READER_COLOURS: readonly string[] = ['#f4f4f4', '#4c78a8', '#f58518', '#e45756'];
export const GP_COLOUR = '#54a24b';
export const PENDING_COLOUR = '#b279a2';
const COL_PX = 5;
const ROW_PX = 14;
const LABEL_PX = 150;
/** Pending frees: one pixel per object, up to this many (the bar is capped and says so). */
export const PENDING_MAX_PX = 80;
const STEPS_PER_FRAME = 2;

export class RcuView {
  readonly root: HTMLElement;
  readonly canvas = el('canvas', { class: 'rcu-timeline' });
  lab: RcuLab;
  private readonly summary = el('div');

  constructor(
    seed: () => number,
    private readonly queue: (work: () => Promise<void>) => Promise<void>,
  ) {
    this.lab = new RcuLab(seed());
    const run = el('button', { id: 'rcu-run' }, 'Run 40 steps');
    run.addEventListener('click', () => void this.queue(() => this.run(40)));
    const mode = el('select', { id: 'rcu-mode' }, el('option', { value: 'kfree_rcu', selected: '' }, 'retire with kfree_rcu (QSBR)'), el('option', { value: 'kfree at once' }, 'kfree at once (no RCU)'));
    mode.addEventListener('change', () => (this.lab.mode = mode.value as RetireMode));
    const stalls = Array.from({ length: READERS }, (_, i) => {
      const box = el('input', { type: 'checkbox', id: `rcu-stall-${i + 1}` });
      box.addEventListener('change', () => this.lab.setStalled(i, box.checked));
      return el('label', {}, box, ` stall CPU ${i + 1} `);
    });
    const reset = el('button', { id: 'rcu-reset' }, 'reset');
    reset.addEventListener('click', () =>
      void this.queue(async () => {
        this.lab = new RcuLab(seed());
        mode.value = 'kfree_rcu';
        for (const s of stalls) (s.firstChild as HTMLInputElement).checked = false;
        this.render();
      }),
    );
    this.root = el('div', {}, el('p', { class: 'controls' }, run, mode, ...stalls, reset), legend([...READER_STATE_NAMES, 'a grace period ended', 'kfree_rcu objects waiting (1 px each)'], [...READER_COLOURS, GP_COLOUR, PENDING_COLOUR]), this.canvas, this.summary);
  }

  private async run(steps: number): Promise<void> {
    for (let done = 0; done < steps; done += STEPS_PER_FRAME) {
      for (let i = 0; i < STEPS_PER_FRAME; i++) this.lab.step();
      this.render();
      await nextFrame();
    }
    this.lab.validate();
    this.render();
  }

  private rowY(row: number): number {
    return row * (ROW_PX + 4);
  }

  render(): void {
    const lab = this.lab;
    const canvas = this.canvas;
    canvas.width = LABEL_PX + HISTORY_STEPS * COL_PX;
    const barTop = this.rowY(READERS + 1) + 8;
    canvas.height = barTop + PENDING_MAX_PX + 16;
    const ctx = clearedContext(canvas);
    if (ctx === null) return;
    ctx.font = '12px system-ui, sans-serif';
    ctx.fillStyle = '#333333';
    for (let r = 0; r < READERS; r++) ctx.fillText(`CPU ${r + 1} (reader)`, 0, this.rowY(r) + ROW_PX - 3);
    ctx.fillText('grace period ended', 0, this.rowY(READERS) + ROW_PX - 3);
    ctx.fillText('kfree_rcu pending', 0, barTop + 12);
    lab.history.forEach((h, col) => {
      const x = LABEL_PX + col * COL_PX;
      h.readers.forEach((state, r) => {
        ctx.fillStyle = READER_COLOURS[state] ?? '#000000';
        ctx.fillRect(x, this.rowY(r), COL_PX - 1, ROW_PX);
      });
      if (h.gpCompleted > 0) {
        ctx.fillStyle = GP_COLOUR;
        ctx.fillRect(x, this.rowY(READERS), COL_PX - 1, ROW_PX);
      }
      const bar = Math.min(PENDING_MAX_PX, h.pending);
      ctx.fillStyle = PENDING_COLOUR;
      ctx.fillRect(x, barTop + PENDING_MAX_PX - bar, COL_PX - 1, bar);
    });
    ctx.fillStyle = '#666666';
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillText(`← the last ${HISTORY_STEPS} steps, one column each (step ${lab.steps.toLocaleString()} at the right)`, LABEL_PX, canvas.height - 3);
    const s = lab.stats();
    this.summary.replaceChildren(
      el(
        'p',
        { class: 'summary', 'data-use-after-free': String(lab.useAfterFree), 'data-gp-completed': String(s.gpCompleted) },
        `${lab.steps.toLocaleString()} steps, retiring with ${lab.mode}. Readers checked ${lab.sectionsChecked.toLocaleString()} nodes at the end of their sections: ${lab.useAfterFree} had been freed under them. ` +
          `Grace periods: ${s.gpStarted} started, ${s.gpCompleted} completed (counter ${s.counter}). kfree_rcu: ${s.kfreePending.objects} objects (${s.kfreePending.bytes} bytes) waiting, ${s.kfreeFreed.toLocaleString()} freed. ` +
          `Stall warnings: ${s.stalls}.`,
      ),
      ...(s.lastStall === null ? [] : [el('p', { class: 'error' }, s.lastStall)]),
    );
  }

  /**
   * Read back from the canvas: reader cells by state in the newest column, grace-period cells over
   * the whole timeline, and the pending bar's height in the newest column.
   */
  drawn(): { readers: number[]; gpCells: number; pendingPx: number } {
    const ctx = readContext(this.canvas, 'RCU view');
    const col = this.lab.history.length - 1;
    const x = LABEL_PX + Math.max(0, col) * COL_PX;
    const readers = new Array<number>(READER_COLOURS.length + 1).fill(0);
    for (let r = 0; r < READERS; r++) {
      const k = colourIndexAt(ctx, x + 1, this.rowY(r) + ROW_PX / 2, READER_COLOURS);
      readers[k] = (readers[k] ?? 0) + 1;
    }
    const gp = countCells(ctx, LABEL_PX, this.rowY(READERS), HISTORY_STEPS, COL_PX, Math.max(0, col + 1), [GP_COLOUR]);
    const barTop = this.rowY(READERS + 1) + 8;
    const column = ctx.getImageData(x + 1, barTop, 1, PENDING_MAX_PX).data;
    let pendingPx = 0;
    for (let y = 0; y < PENDING_MAX_PX; y++) if (column[y * 4] === 0xb2 && column[y * 4 + 1] === 0x79 && column[y * 4 + 2] === 0xa2) pendingPx++;
    return { readers, gpCells: gp[0] ?? 0, pendingPx };
  }
}
