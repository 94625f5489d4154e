/**
 * One machine's panel: the frame map, totals, the buddy free lists per order and migratetype, and
 * the slab caches (slabinfo's columns with objects in use, in magazines and free).
 */
import type { LiveMachine } from '../machine.ts';
import { MIGRATETYPE_NAMES, NR_PAGE_ORDERS } from '../../mm/types.ts';
import { FrameView } from './frame-view.ts';
import { bar, el, table } from './dom.ts';

export class MachineView {
  readonly root: HTMLElement;
  readonly frames: FrameView;
  private readonly totals = el('p', { class: 'totals' });
  private readonly buddy = el('div');
  private readonly slabs = el('div');

  constructor(
    readonly machine: LiveMachine,
    info: HTMLElement,
  ) {
    this.frames = new FrameView(machine.kernel, info);
    this.root = el('div', { class: 'machine' }, el('h2', {}, machine.design), this.frames.root, this.totals, el('h3', {}, 'Buddy free lists (blocks per order)'), this.buddy, el('h3', {}, 'Slab caches'), this.slabs);
  }

  render(): void {
    this.frames.draw();
    const kernel = this.machine.kernel;
    const stats = kernel.stats();
    const p = this.machine.pages.counters;
    const o = this.machine.objects.counters;
    this.totals.textContent =
      `step ${this.machine.steps.toLocaleString()} · free ${stats.pages.freePages.toLocaleString()} of ${stats.pages.managedPages.toLocaleString()} pages · ` +
      `slab ${stats.slab.totals.pages.toLocaleString()} pages · page requests failed ${p.failures.toLocaleString()} · object requests failed ${o.failures.toLocaleString()} · validate() passed`;
    this.root.dataset['freePages'] = String(stats.pages.freePages);
    this.root.dataset['slabPages'] = String(stats.slab.totals.pages);
    const rows: (string | number)[][] = [];
    for (const zone of stats.pages.zones) {
      for (let mt = 0; mt < 3; mt++) {
        const name = MIGRATETYPE_NAMES[mt] ?? String(mt);
        rows.push([`${zone.name} ${name}`, ...(zone.freeBlocksByType[name] ?? new Array<number>(NR_PAGE_ORDERS).fill(0))]);
      }
    }
    this.buddy.replaceChildren(table(['zone, type', ...Array.from({ length: NR_PAGE_ORDERS }, (_, o) => `${o}`)], rows));
    const caches = stats.slab.caches.filter((c) => c.totalObjs > 0);
    this.slabs.replaceChildren(
      table(
        ['cache', 'objsize', 'in use', 'magazines', 'free in slabs', 'total', 'slabs', 'used'],
        caches.map((c) => [c.name, c.objectSize, c.inUse, c.inMagazines, c.freeInSlabs, c.totalObjs, c.slabs.total, bar(c.totalObjs > 0 ? c.inUse / c.totalObjs : 0)]),
        { class: 'slab-caches' },
      ),
    );
  }
}
