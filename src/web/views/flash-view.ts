/**
 * Flash garbage collection, live: every page of an emulated NAND chip, one row per erase block —
 * valid, invalid, erased — with each block's state and erase count, the victims GC chose most
 * recently, and the write amplification so far (lab/views/flash-lab.ts).
 */
import { FLASH_PAGE_NAMES, FLASH_WORKLOADS, FlashLab } from '../../lab/views/flash-lab.ts';
import type { FlashWorkload } from '../../lab/views/flash-lab.ts';
import { BlockState } from '../../flash/block-table.ts';
import { VICTIM_POLICIES } from '../../flash/victim.ts';
import type { VictimPolicyName } from '../../flash/victim.ts';
import { clearedContext, countCells, fillCells, legend, nextFrame, readContext } from './cells.ts';
import { el, table } from './dom.ts';

/** Pages: erased, valid, invalid, tombstone. */
export const FLASH_COLOURS: readonly string[] = ['#f4f4f4', '#54a24b', '#e45756', '#9d755d'];
/** Block states: free, open, closed, bad. */
const STATE_COLOURS: readonly string[] = ['#ffffff', '#4c78a8', '#bab0ac', '#000000'];
const CELL_PX = 8;
const LEFT_PX = 60;
const WEAR_PX = 80;
const WRITES_PER_FRAME = 1000;

export class FlashView {
  readonly root: HTMLElement;
  readonly canvas = el('canvas', { class: 'flash-blocks' });
  lab: FlashLab;
  private readonly summary = el('div');

  constructor(
    seed: () => number,
    private readonly queue: (work: () => Promise<void>) => Promise<void>,
  ) {
    const policy = el('select', { id: 'flash-policy' }, ...VICTIM_POLICIES.map((p) => el('option', p === 'greedy' ? { value: p, selected: '' } : { value: p }, p)));
    const workload = el('select', { id: 'flash-workload' }, ...FLASH_WORKLOADS.map((w, i) => el('option', i === 1 ? { value: w, selected: '' } : { value: w }, w)));
    const make = (): FlashLab => new FlashLab(seed(), policy.value as VictimPolicyName, workload.value as FlashWorkload);
    this.lab = make();
    for (const select of [policy, workload]) select.addEventListener('change', () => void this.queue(async () => ((this.lab = make()), this.render())));
    const run = el('button', { id: 'flash-run' }, 'Write 10,000 pages');
    run.addEventListener('click', () => void this.queue(() => this.run(10_000)));
    this.root = el(
      'div',
      {},
      el('p', { class: 'controls' }, el('label', {}, 'victim policy ', policy), el('label', {}, ' workload ', workload), run),
      this.summary,
      legend([...FLASH_PAGE_NAMES, 'block: free', 'open (a write frontier)', 'closed (a candidate victim)'], [...FLASH_COLOURS, ...STATE_COLOURS.slice(0, 3)]),
      this.canvas,
    );
  }

  private async run(writes: number): Promise<void> {
    for (let done = 0; done < writes; done += WRITES_PER_FRAME) {
      this.lab.write(Math.min(WRITES_PER_FRAME, writes - done));
      this.render();
      await nextFrame();
    }
    this.lab.validate();
    this.render();
  }

  render(): void {
    const lab = this.lab;
    const { blocks, pagesPerBlock } = lab.device;
    const canvas = this.canvas;
    canvas.width = LEFT_PX + pagesPerBlock * CELL_PX + 10 + WEAR_PX + 70;
    canvas.height = blocks * CELL_PX + 18;
    const ctx = clearedContext(canvas);
    if (ctx === null) return;
    ctx.font = '10px system-ui, sans-serif';
    const victims = new Map(lab.victims.map((v, i) => [v.block, i]));
    const maxErases = Math.max(1, ...lab.device.eraseCounts);
    const top = 14;
    ctx.fillStyle = '#333333';
    ctx.fillText('block', 0, 10);
    ctx.fillText(`pages 0…${pagesPerBlock - 1}`, LEFT_PX, 10);
    ctx.fillText('erase count', LEFT_PX + pagesPerBlock * CELL_PX + 10, 10);
    for (let b = 0; b < blocks; b++) {
      const y = top + b * CELL_PX;
      if (b % 8 === 0) {
        ctx.fillStyle = '#333333';
        ctx.fillText(String(b), 0, y + CELL_PX);
      }
      ctx.fillStyle = STATE_COLOURS[lab.ftl.table.state[b] as number] ?? '#000000';
      ctx.fillRect(LEFT_PX - 14, y, 8, CELL_PX - 1);
      const v = victims.get(b);
      if (v !== undefined) {
        // The recent victims, newest darkest: an arrow left of the block.
        ctx.fillStyle = v === lab.victims.length - 1 ? '#b00020' : '#e8a0a8';
        ctx.beginPath();
        ctx.moveTo(LEFT_PX - 26, y);
        ctx.lineTo(LEFT_PX - 17, y + (CELL_PX - 1) / 2);
        ctx.lineTo(LEFT_PX - 26, y + CELL_PX - 1);
        ctx.fill();
      }
      const erases = lab.device.eraseCounts[b] as number;
      ctx.fillStyle = '#bab0ac';
      ctx.fillRect(LEFT_PX + pagesPerBlock * CELL_PX + 10, y, Math.round((erases / maxErases) * WEAR_PX), CELL_PX - 1);
    }
    fillCells(ctx, LEFT_PX, top, pagesPerBlock, CELL_PX, lab.pageMap(), FLASH_COLOURS);
    ctx.fillStyle = '#333333';
    ctx.fillText(`max ${maxErases}`, LEFT_PX + pagesPerBlock * CELL_PX + 10 + WEAR_PX + 4, top + 8);
    const s = lab.stats();
    const last = lab.victims[lab.victims.length - 1];
    const free = Array.from(lab.ftl.table.state).filter((st) => st === BlockState.Free).length;
    this.summary.replaceChildren(
      el(
        'p',
        { class: 'summary', 'data-victims': String(s.gc.victims), 'data-last-victim': String(last?.block ?? -1) },
        `${lab.policy} victims, ${lab.workload} writes: ${s.hostWrites.toLocaleString()} host writes (${lab.logicalPages.toLocaleString()} logical pages on ${lab.device.pages.toLocaleString()} physical), ` +
          `${s.gcCopies.toLocaleString()} pages copied by GC from ${s.gc.victims.toLocaleString()} victims, ${free} blocks free. ` +
          `Write amplification since the fill: ${lab.waSinceFill().toFixed(2)} (all writes: ${s.writeAmplification.toFixed(2)}). validate() passed.`,
      ),
      table(['recent victims (newest last)', 'valid pages copied', 'kind'], lab.victims.map((v) => [`block ${v.block}`, v.valid, v.kind])),
    );
  }

  /** Pages by kind (erased, valid, invalid, tombstone, unknown), read back from the canvas, over all blocks and per block. */
  drawn(): { total: number[]; validPerBlock: number[] } {
    const ctx = readContext(this.canvas, 'flash view');
    const { blocks, pagesPerBlock } = this.lab.device;
    const total = new Array<number>(FLASH_COLOURS.length + 1).fill(0);
    const validPerBlock: number[] = [];
    for (let b = 0; b < blocks; b++) {
      const row = countCells(ctx, LEFT_PX, 14 + b * CELL_PX, pagesPerBlock, CELL_PX, pagesPerBlock, FLASH_COLOURS);
      row.forEach((n, k) => (total[k] = (total[k] ?? 0) + n));
      validPerBlock.push(row[1] ?? 0);
    }
    return { total, validPerBlock };
  }
}
