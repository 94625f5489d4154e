/**
 * DMA and the CPU caches, live: the 64 cache lines of a 4 KiB receive buffer in each level of one
 * CPU's caches, and what a load sees, as a non-coherent device writes packets into RAM and the CPU
 * reads them with or without the DMA API's syncs (lab/views/dma-lab.ts).
 */
import { DmaLab, LINE_STATE_NAMES } from '../../lab/views/dma-lab.ts';
import { clearedContext, countCells, fillCells, legend, readContext } from './cells.ts';
import { el, table } from './dom.ts';

/** One colour per LineState: not cached, clean, dirty, stale. */
export const LINE_COLOURS: readonly string[] = ['#eeeeee', '#54a24b', '#f58518', '#e45756'];
const CELL_PX = 14;
const LABEL_PX = 120;
const ROW_GAP_PX = 6;

export class DmaView {
  readonly root: HTMLElement;
  readonly canvas = el('canvas', { class: 'dma-lines' });
  lab: DmaLab;
  private readonly summary = el('div');
  private readonly log = el('ol', { class: 'dma-log' });
  private readonly packetBytes = el('input', { id: 'dma-packet-bytes', type: 'number', value: '1500', min: '4', max: '4096', step: '4' });
  private readonly error = el('p', { class: 'error' });

  constructor(
    seed: () => number,
    private readonly queue: (work: () => Promise<void>) => Promise<void>,
  ) {
    this.lab = new DmaLab(seed());
    const bytes = (): number => Math.max(4, Math.min(4096, Number(this.packetBytes.value) || 1500));
    const button = (id: string, label: string, action: () => void): HTMLButtonElement => {
      const b = el('button', { id }, label);
      b.addEventListener('click', () => void this.queue(async () => this.act(action)));
      return b;
    };
    this.root = el(
      'div',
      {},
      el(
        'p',
        { class: 'controls' },
        el('label', {}, 'packet bytes ', this.packetBytes),
        button('dma-rx-nosync', 'Receive a packet, no sync', () => {
          this.lab.deviceWrites(bytes());
          this.lab.cpuReads();
        }),
        button('dma-rx-sync', 'Receive a packet with syncs', () => {
          this.lab.deviceWrites(bytes());
          this.lab.syncForCpu();
          this.lab.cpuReads();
          this.lab.syncForDevice();
        }),
      ),
      el(
        'p',
        { class: 'controls' },
        'one step: ',
        button('dma-device-write', 'device writes', () => this.lab.deviceWrites(bytes())),
        button('dma-sync-cpu', 'dma_sync_single_for_cpu', () => this.lab.syncForCpu()),
        button('dma-cpu-read', 'CPU reads', () => this.lab.cpuReads()),
        button('dma-sync-device', 'dma_sync_single_for_device', () => this.lab.syncForDevice()),
        button('dma-cpu-write', 'CPU writes 256 bytes', () => this.lab.cpuWrites(256)),
        button('dma-reset', 'reset', () => (this.lab = new DmaLab(seed()))),
      ),
      this.error,
      legend(LINE_STATE_NAMES, LINE_COLOURS),
      this.canvas,
      this.summary,
      el('h3', {}, 'What happened'),
      this.log,
    );
  }

  private act(action: () => void): void {
    this.error.textContent = '';
    try {
      action();
      this.lab.validate();
    } catch (error) {
      // An error (the DMA API's are typed) is shown with its name, not thrown into the page.
      this.error.textContent = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    }
    this.render();
  }

  render(): void {
    const lab = this.lab;
    const rows = lab.lineStates();
    const names = [...lab.levels().map((l) => l.name), 'a load sees'];
    const canvas = this.canvas;
    canvas.width = LABEL_PX + lab.lines * CELL_PX;
    canvas.height = rows.length * (CELL_PX + ROW_GAP_PX) + 14;
    const ctx = clearedContext(canvas);
    if (ctx === null) return;
    ctx.font = '12px system-ui, sans-serif';
    rows.forEach((row, i) => {
      const y = i * (CELL_PX + ROW_GAP_PX) + (i === rows.length - 1 ? 6 : 0);
      ctx.fillStyle = '#333333';
      ctx.fillText(names[i] ?? '', 0, y + CELL_PX - 3);
      fillCells(ctx, LABEL_PX, y, lab.lines, CELL_PX, row, LINE_COLOURS);
    });
    ctx.fillStyle = '#666666';
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillText(`one cell per 64-byte line of the buffer at 0x${lab.bufferPaddr.toString(16)} (offset 0 at the left)`, LABEL_PX, canvas.height - 2);
    const read = lab.lastRead;
    const d = lab.dma.stats();
    this.summary.replaceChildren(
      el(
        'p',
        { class: 'summary', 'data-stale-lines': String(read?.staleLines ?? -1), 'data-packets': String(lab.packets) },
        `${lab.packets} packets written by the device. ` +
          (read === null ? 'The CPU has not read a packet yet.' : `Last read: ${read.staleWords} stale words in ${read.staleLines} lines.`) +
          ` DMA API: ${d.syncsForCpu} syncs for the CPU, ${d.syncsForDevice} for the device, ${d.linesInvalidated} lines invalidated, ${d.linesCleaned} cleaned. validate() passed.`,
      ),
      table(
        ['level', 'valid lines', 'dirty lines', 'hits', 'misses', 'dirty lines discarded'],
        lab.levels().map((l) => {
          const s = l.stats();
          return [s.name, s.validLines, s.dirtyLines, s.hits, s.misses, s.dirtyDiscarded];
        }),
      ),
    );
    this.log.replaceChildren(...lab.log.slice(-8).map((line) => el('li', {}, line)));
    this.log.start = Math.max(1, lab.log.length - 7);
  }

  /** Each row's cells by LineState (then unknown colours), read back from the canvas. */
  drawn(): number[][] {
    const ctx = readContext(this.canvas, 'DMA view');
    const n = this.lab.levels().length + 1;
    return Array.from({ length: n }, (_, i) => countCells(ctx, LABEL_PX, i * (CELL_PX + ROW_GAP_PX) + (i === n - 1 ? 6 : 0), this.lab.lines, CELL_PX, this.lab.lines, LINE_COLOURS));
  }
}
