/**
 * Secret memory, live: each secretAlloc'd region 64 bytes a cell — the guard pages, the slack and
 * the secret right-aligned against the trailing guard — and the kernel's direct map where it was
 * split to hide the secrets' frames (lab/views/secret-lab.ts). One click overflows a secret from the
 * owner's CPU or reads it through the direct map from the kernel; the typed error is shown as thrown.
 */
import { DIRECT_ENTRY_NAMES, GRANULE_BYTES, GRANULE_NAMES, SecretLab } from '../../lab/views/secret-lab.ts';
import type { LabSecret } from '../../lab/views/secret-lab.ts';
import { formatVaddr } from '../../mm/vm/types.ts';
import { clearedContext, countCells, fillCells, legend, readContext } from './cells.ts';
import { el } from './dom.ts';

/** Granules: guard, slack, secret, fault. */
export const GRANULE_COLOURS: readonly string[] = ['#777777', '#e8e8e8', '#b279a2', '#e45756'];
/** Direct-map entries: present, hole, beyond RAM. */
export const DIRECT_COLOURS: readonly string[] = ['#54a24b', '#1b1b1b', '#ffffff'];
const CELL_PX = 12;
const LABEL_PX = 250;
const GRANULES = 4096 / GRANULE_BYTES;
const DM_CELL_PX = 8;
const DM_COLUMNS = 64;
const DM_LABEL_PX = 16;
const DM_BOX_H = (512 / DM_COLUMNS) * DM_CELL_PX;

export class SecretView {
  readonly root: HTMLElement;
  readonly regions = el('canvas', { class: 'secret-regions' });
  readonly directMap = el('canvas', { class: 'direct-map' });
  lab: SecretLab;
  private readonly pick = el('select', { id: 'secret-pick' });
  private readonly extra = el('input', { id: 'secret-extra', type: 'number', value: '1', min: '1', max: '4096' });
  private readonly outcome = el('div', { class: 'secret-outcome', 'aria-live': 'polite' });
  private readonly summary = el('p', { class: 'summary' });
  private dmOrigins: [number, number][] = [];

  constructor(
    private readonly seed: () => number,
    private readonly queue: (work: () => Promise<void>) => Promise<void>,
  ) {
    this.lab = new SecretLab(seed());
    const button = (id: string, label: string, action: (secret: LabSecret) => Error | null | void): HTMLButtonElement => {
      const b = el('button', { id }, label);
      b.addEventListener('click', () => void this.queue(async () => this.act(action)));
      return b;
    };
    const size = el('input', { id: 'secret-size', type: 'number', value: '100', min: '1', max: '65536' });
    const alloc = el('button', { id: 'secret-alloc' }, 'secretAlloc');
    alloc.addEventListener('click', () =>
      void this.queue(async () => {
        const bytes = Math.max(1, Math.min(65536, Number(size.value) || 100));
        this.show(this.attempt(() => void this.lab.allocate(`secret (${bytes} B)`, bytes)), 'secretAlloc');
      }),
    );
    this.root = el(
      'div',
      {},
      el(
        'p',
        { class: 'controls' },
        el('label', {}, 'secret ', this.pick),
        el('label', {}, ' write it and ', this.extra, ' bytes more '),
        button('secret-overflow', 'Overflow', (s) => this.lab.overflow(s, Math.max(1, Math.min(4096, Number(this.extra.value) || 1)))),
        button('secret-kernel-read', 'Kernel reads it (direct map)', (s) => this.lab.kernelRead(s)),
        button('secret-free', 'secretFree', (s) => void this.lab.free(s)),
        el('label', {}, ' · new secret of ', size, ' bytes '),
        alloc,
      ),
      this.outcome,
      this.summary,
      el('h3', {}, 'The regions in the owner\'s address space (one cell per 64 bytes, one row per page)'),
      legend(GRANULE_NAMES, GRANULE_COLOURS),
      this.regions,
      el('h3', {}, 'The kernel\'s direct map where it was split (one cell per 4 KiB entry)'),
      legend(DIRECT_ENTRY_NAMES, DIRECT_COLOURS),
      this.directMap,
    );
  }

  private attempt(work: () => Error | null | void): Error | null {
    try {
      return work() ?? null;
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  }

  private act(action: (secret: LabSecret) => Error | null | void): void {
    const secret = this.lab.secrets[Number(this.pick.value)];
    if (secret === undefined) {
      this.show(new Error('no secret selected: allocate one'), 'nothing');
      return;
    }
    this.show(this.attempt(() => action(secret)), secret.name);
  }

  /** Shows what the action threw (the typed error) or that it passed, then checks the kernel and redraws. */
  private show(error: Error | null, what: string): void {
    this.lab.kernel.validate();
    this.outcome.replaceChildren(
      error === null
        ? el('p', { 'data-error-name': '' }, `${what}: done, no error.`)
        : el('p', { class: 'error', 'data-error-name': error.name }, el('strong', {}, error.name), `: ${error.message}`),
      el('p', {}, 'kernel.validate() passed afterwards.'),
    );
    this.render();
  }

  render(): void {
    const lab = this.lab;
    const chosen = Math.min(Number(this.pick.value) || 0, Math.max(0, lab.secrets.length - 1));
    this.pick.replaceChildren(...lab.secrets.map((s, i) => el('option', i === chosen ? { value: String(i), selected: '' } : { value: String(i) }, `${s.name} at ${formatVaddr(s.region.addr)}`)));
    const s = lab.stats();
    this.summary.textContent =
      `${lab.secrets.length} secret regions · ${s.sensitivePages} secret pages (tagged Sensitive | NoSave | NoDump | Mlocked) · ` +
      `${s.directMapHoles} holes in the direct map · ${s.directMapSplits} of ${lab.directMapEntries} 2 MiB direct-map entries split into 4 KiB tables`;
    this.drawRegions();
    this.drawDirectMap();
  }

  private drawRegions(): void {
    const rows = this.lab.pageRows();
    const canvas = this.regions;
    canvas.width = LABEL_PX + GRANULES * CELL_PX;
    canvas.height = Math.max(1, rows.length) * CELL_PX;
    const ctx = clearedContext(canvas);
    if (ctx === null) return;
    ctx.font = '11px system-ui, sans-serif';
    rows.forEach((row, i) => {
      ctx.fillStyle = '#333333';
      ctx.fillText(`${row.label} ${formatVaddr(row.vaddr)}${row.pfn >= 0 ? ` pfn ${row.pfn}` : ''}`, 0, i * CELL_PX + CELL_PX - 3);
      fillCells(ctx, LABEL_PX, i * CELL_PX, GRANULES, CELL_PX, row.granules, GRANULE_COLOURS);
    });
    canvas.dataset['rows'] = String(rows.length);
  }

  private drawDirectMap(): void {
    const tables = this.lab.splitTables();
    const canvas = this.directMap;
    canvas.width = DM_COLUMNS * DM_CELL_PX;
    canvas.height = Math.max(1, tables.length) * (DM_LABEL_PX + DM_BOX_H + 6);
    const ctx = clearedContext(canvas);
    if (ctx === null) return;
    ctx.font = '11px system-ui, sans-serif';
    this.dmOrigins = [];
    tables.forEach((t, i) => {
      const y = i * (DM_LABEL_PX + DM_BOX_H + 6);
      ctx.fillStyle = '#333333';
      ctx.fillText(`2 MiB entry for pfn ${t.firstPfn}…${t.firstPfn + 511}, split (direct_map_level2_splits)`, 0, y + DM_LABEL_PX - 4);
      fillCells(ctx, 0, y + DM_LABEL_PX, DM_COLUMNS, DM_CELL_PX, t.entries, DIRECT_COLOURS);
      this.dmOrigins.push([0, y + DM_LABEL_PX]);
    });
  }

  /** Read back from the canvases: granules by kind over every row, and direct-map entries by kind over every split table. */
  drawn(): { granules: number[]; rows: number; direct: number[]; tables: number } {
    const ctx = readContext(this.regions, 'secret view');
    const dm = readContext(this.directMap, 'secret view');
    const rows = Number(this.regions.dataset['rows']);
    const granules = new Array<number>(GRANULE_COLOURS.length + 1).fill(0);
    for (let r = 0; r < rows; r++) countCells(ctx, LABEL_PX, r * CELL_PX, GRANULES, CELL_PX, GRANULES, GRANULE_COLOURS).forEach((n, k) => (granules[k] = (granules[k] ?? 0) + n));
    const direct = new Array<number>(DIRECT_COLOURS.length + 1).fill(0);
    for (const [x, y] of this.dmOrigins) countCells(dm, x, y, DM_COLUMNS, DM_CELL_PX, 512, DIRECT_COLOURS).forEach((n, k) => (direct[k] = (direct[k] ?? 0) + n));
    return { granules, rows, direct, tables: this.dmOrigins.length };
  }
}
