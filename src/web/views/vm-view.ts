/**
 * Virtual memory, live: a process's VMAs, its page-table tree (every table of the user half, one
 * cell per entry, coloured by what the entry holds: lab/views/page-table-map.ts) and the TLB of the
 * CPU that runs loads over its data (one cell per entry of each array, coloured by page size), with
 * the CPU's hit and miss counters since the loads began. A toggle boots the machine again with
 * 4 KiB or 2 MiB pages (lab/views/vm-lab.ts).
 */
import { LEVEL_NAMES, PTE_KIND_NAMES, pageTableCensus, pageTableMap } from '../../lab/views/page-table-map.ts';
import type { TableImage } from '../../lab/views/page-table-map.ts';
import { VmLab } from '../../lab/views/vm-lab.ts';
import type { VmPageSize } from '../../lab/views/vm-lab.ts';
import { tagClass, type TlbArray } from '../../machine/tlb.ts';
import { formatVaddr } from '../../mm/vm/types.ts';
import { formatBytes } from '../../util/units.ts';
import { el, table } from './dom.ts';
import { clearedContext, countCells, fillCells, legend, nextFrame, readContext } from './cells.ts';

/** One colour per PteKind, in its order. */
export const PTE_COLOURS: readonly string[] = ['#eeeeee', '#4c78a8', '#54a24b', '#f58518', '#c5b0d5', '#777777', '#e45756'];
/** TLB entries by page size: empty, 4 KiB, 2 MiB, 1 GiB. */
export const TLB_COLOURS: readonly string[] = ['#eeeeee', '#54a24b', '#f58518', '#b279a2'];

/** A table is drawn as 32 × 16 cells of 4 px, under a 14 px label; tables 12 px apart. */
export const PT_CELL_PX = 4;
const PT_COLUMNS = 32;
const PT_LABEL_PX = 14;
const PT_GAP_PX = 12;
const PT_BOX_W = PT_COLUMNS * PT_CELL_PX;
const PT_BOX_H = (512 / PT_COLUMNS) * PT_CELL_PX;
/** TLB arrays: 64 entries a row, 7 px cells, under a 14 px label. */
export const TLB_CELL_PX = 7;
export const TLB_COLUMNS = 64;
const LOADS_PER_FRAME = 1000;

export class VmView {
  readonly root: HTMLElement;
  readonly tablesCanvas = el('canvas', { class: 'page-tables' });
  readonly tlbCanvas = el('canvas', { class: 'tlb' });
  lab: VmLab;
  private readonly vmas = el('div');
  private readonly counters = el('div', { class: 'vm-counters' });
  private readonly entry = el('p', { class: 'pte-info' }, 'Hover over an entry.');
  private images: TableImage[] = [];
  private origins: [number, number][] = [];

  constructor(
    private seed: () => number,
    private readonly queue: (work: () => Promise<void>) => Promise<void>,
  ) {
    this.lab = VmLab.boot({ pageSize: '4k', seed: seed() });
    const sizes = el('span', {}, ...(['4k', '2m'] as const).map((size) => el('label', {}, el('input', size === '4k' ? { type: 'radio', name: 'vm-page-size', value: size, checked: '' } : { type: 'radio', name: 'vm-page-size', value: size }), size === '4k' ? ' 4 KiB pages ' : ' 2 MiB pages (THP) ')));
    const run = el('button', { id: 'vm-run' }, 'Run 20,000 loads');
    sizes.addEventListener('change', (event) => {
      const size = (event.target as HTMLInputElement).value as VmPageSize;
      void this.queue(async () => this.boot(size));
    });
    run.addEventListener('click', () => void this.queue(() => this.runLoads(20_000)));
    this.tablesCanvas.addEventListener('mousemove', (e) => this.hover(e));
    this.root = el(
      'div',
      {},
      el('p', { class: 'controls' }, sizes, run),
      this.counters,
      el('h3', {}, 'VMAs (/proc/pid/maps)'),
      this.vmas,
      el('h3', {}, 'Page tables (user half; one cell per entry, 512 per table)'),
      legend(PTE_KIND_NAMES, PTE_COLOURS),
      this.tablesCanvas,
      this.entry,
      el('h3', {}, 'TLB (Skylake geometry; one cell per entry, 64 per row)'),
      legend(['empty', '4 KiB', '2 MiB', '1 GiB'], TLB_COLOURS),
      this.tlbCanvas,
    );
  }

  private boot(pageSize: VmPageSize): void {
    this.lab = VmLab.boot({ pageSize, seed: this.seed() });
    this.render();
  }

  /** Runs loads a thousand per animation frame, drawing the TLB as it fills. */
  private async runLoads(count: number): Promise<void> {
    for (let done = 0; done < count; done += LOADS_PER_FRAME) {
      this.lab.runLoads(Math.min(LOADS_PER_FRAME, count - done));
      this.render();
      await nextFrame();
    }
    this.lab.kernel.validate();
    this.lab.cpu.validate();
  }

  render(): void {
    const lab = this.lab;
    this.images = pageTableMap(lab.mm);
    const census = pageTableCensus(this.images);
    this.drawTables();
    this.drawTlb(lab.tlbArrays());
    this.vmas.replaceChildren(table(['start', 'end', 'perms', 'size', ''], lab.vmas().map((v) => [v.start, v.end, v.perms, formatBytes(v.sizeBytes), v.name])));
    const now = lab.cpu.stats();
    const t = now.tlb.counters;
    const b = lab.baseline.tlb.counters;
    const loads = now.accesses - lab.baseline.accesses;
    const walks = now.walks - lab.baseline.walks;
    const cycles = now.cycles - lab.baseline.cycles;
    const row = (name: string, value: number): [string, string] => [name, value.toLocaleString()];
    this.counters.replaceChildren(
      el(
        'p',
        { class: 'summary', 'data-page-size': lab.pageSize, 'data-loads': String(loads), 'data-rss-pages': String(lab.mm.rssAnonPages), 'data-pgtable-pages': String(lab.mm.pageTablePages), 'data-mapped-pages': String(census.mappedPages) },
        `${lab.pageSize === '4k' ? '4 KiB' : '2 MiB'} pages · RSS ${lab.mm.rssAnonPages.toLocaleString()} pages (the leaves drawn map ${census.mappedPages.toLocaleString()}) · ` +
          `PageTables ${lab.mm.pageTablePages} pages (${census.tables} drawn + one deposited per huge page) · validate() passed`,
      ),
      table(['since the loads began', ''], [
        row('loads', loads),
        row('L1 TLB hits', t.l1Hits - b.l1Hits),
        row('L1 TLB misses', t.l1Misses - b.l1Misses),
        row('STLB hits', t.l2Hits - b.l2Hits),
        row('STLB misses (page walks)', t.l2Misses - b.l2Misses),
        row('walk reads', now.walkReads - lab.baseline.walkReads),
        ['cycles per load (model)', loads > 0 ? (cycles / loads).toFixed(1) : '–'],
      ]),
    );
    this.counters.dataset['walks'] = String(walks);
  }

  /** Where each table is drawn: the PGD, then each level's tables on rows of their own. */
  private layout(width: number): number {
    this.origins = [];
    let x = 0;
    let y = 0;
    let level = 5;
    for (const image of this.images) {
      if (image.level !== level || x + PT_BOX_W > width) {
        if (level !== 5) y += PT_LABEL_PX + PT_BOX_H + PT_GAP_PX;
        x = 0;
        level = image.level;
      }
      this.origins.push([x, y + PT_LABEL_PX]);
      x += PT_BOX_W + PT_GAP_PX;
    }
    return y + PT_LABEL_PX + PT_BOX_H;
  }

  private drawTables(): void {
    const canvas = this.tablesCanvas;
    const width = 8 * (PT_BOX_W + PT_GAP_PX);
    canvas.width = width;
    canvas.height = this.layout(width);
    canvas.dataset['origins'] = JSON.stringify(this.origins);
    const ctx = clearedContext(canvas);
    if (ctx === null) return;
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = '#333333';
    this.images.forEach((image, i) => {
      const [x, y] = this.origins[i] as [number, number];
      ctx.fillStyle = '#333333';
      ctx.fillText(`${LEVEL_NAMES[image.level]} ${formatVaddr(image.baseVaddr)}`, x, y - 3);
      fillCells(ctx, x, y, PT_COLUMNS, PT_CELL_PX, image.kinds, PTE_COLOURS);
    });
  }

  private drawTlb(arrays: readonly TlbArray[]): void {
    const canvas = this.tlbCanvas;
    const heights = arrays.map((a) => PT_LABEL_PX + Math.ceil(a.tags.length / TLB_COLUMNS) * TLB_CELL_PX + 8);
    canvas.width = TLB_COLUMNS * TLB_CELL_PX + 260;
    canvas.height = heights.reduce((a, b) => a + b, 0);
    const origins: [number, number][] = [];
    const ctx = clearedContext(canvas);
    if (ctx === null) return;
    ctx.font = '11px system-ui, sans-serif';
    let y = 0;
    arrays.forEach((array, i) => {
      const kinds = new Uint8Array(array.tags.length);
      for (let e = 0; e < kinds.length; e++) kinds[e] = (array.tags[e] as number) >= 0 ? tagClass(array.tags[e] as number) + 1 : 0; // 1 4 KiB, 2 2 MiB, 3 1 GiB
      const valid = array.validEntries();
      const c = array.counters;
      ctx.fillStyle = '#333333';
      ctx.fillText(`${array.spec.name}: ${array.sets} sets × ${array.ways} ways, ${valid} valid · hits ${c.hits.toLocaleString()} · fills ${c.fills.toLocaleString()} · evictions ${c.evictions.toLocaleString()}`, 0, y + PT_LABEL_PX - 3);
      origins.push([0, y + PT_LABEL_PX]);
      fillCells(ctx, 0, y + PT_LABEL_PX, TLB_COLUMNS, TLB_CELL_PX, kinds, TLB_COLOURS);
      y += heights[i] as number;
    });
    canvas.dataset['origins'] = JSON.stringify(origins);
  }

  /**
   * What the canvases show, read back from their pixels: entries of each kind over every table drawn
   * (by PteKind), the number of tables, and each TLB array's cells by size class (empty, 4K, 2M, 1G).
   */
  drawn(): { tables: number; entries: number[]; tlb: number[][] } {
    const ctx = readContext(this.tablesCanvas, 'VM view');
    const tlbCtx = readContext(this.tlbCanvas, 'VM view');
    const entries = new Array<number>(PTE_COLOURS.length + 1).fill(0);
    for (const [x, y] of this.origins) countCells(ctx, x, y, PT_COLUMNS, PT_CELL_PX, 512, PTE_COLOURS).forEach((n, k) => (entries[k] = (entries[k] ?? 0) + n));
    const tlbOrigins = JSON.parse(this.tlbCanvas.dataset['origins'] ?? '[]') as [number, number][];
    const tlb = this.lab.tlbArrays().map((a, i) => {
      const [x, y] = tlbOrigins[i] ?? [0, 0];
      return countCells(tlbCtx, x, y, TLB_COLUMNS, TLB_CELL_PX, a.tags.length, TLB_COLOURS);
    });
    return { tables: this.origins.length, entries, tlb };
  }

  private hover(event: MouseEvent): void {
    const rect = this.tablesCanvas.getBoundingClientRect();
    const scale = this.tablesCanvas.width / rect.width;
    const px = (event.clientX - rect.left) * scale;
    const py = (event.clientY - rect.top) * scale;
    const i = this.origins.findIndex(([x, y]) => px >= x && px < x + PT_BOX_W && py >= y && py < y + PT_BOX_H);
    const image = this.images[i];
    if (image === undefined) return;
    const [x, y] = this.origins[i] as [number, number];
    const index = Math.floor((py - y) / PT_CELL_PX) * PT_COLUMNS + Math.floor((px - x) / PT_CELL_PX);
    const slot = (image.pfn * 4096) / 4 + index * 2;
    const u = this.lab.kernel.vm.u;
    const raw = `${((u[slot + 1] as number) >>> 0).toString(16).padStart(8, '0')}${((u[slot] as number) >>> 0).toString(16).padStart(8, '0')}`;
    const span = [0, 4096, 2 << 20, 1 << 30, 2 ** 39][image.level] as number;
    const vaddr = image.baseVaddr + index * span;
    this.entry.textContent = `${LEVEL_NAMES[image.level]} at pfn ${image.pfn}, entry ${index}: 0x${raw} — ${PTE_KIND_NAMES[image.kinds[index] as number]}, translates ${formatVaddr(vaddr)} … +${formatBytes(span)}`;
  }
}
