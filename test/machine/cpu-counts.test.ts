// The CPU's fast paths change how fast a translation is found, never what the model counts: a seeded
// trace of loads, stores, batches, invalidations and address-space switches over 4 KiB, 2 MiB and
// 1 GiB pages gives exactly the counters recorded from the implementation before the speed work
// (commit 314d776: every TLB level's hits, misses, fills and evictions, walks, walk reads, walk-cache
// hits, cycles). A change that counts one hit more or one walk read less fails here.
// PRINT_COUNTS=1 npx tsx test/machine/cpu-counts.test.ts prints the current strings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ram } from '../../src/machine/ram.ts';
import { Cpu } from '../../src/machine/cpu.ts';
import { fullyAssociative, skylake, zen3 } from '../../src/machine/tlb-presets.ts';
import type { TlbPreset } from '../../src/machine/tlb-presets.ts';
import { Prng } from '../../src/util/prng.ts';
import { PageTableBuilder } from '../helpers/page-tables.ts';

const SMALL = 0x10_0000_0000; // 4096 pages of 4 KiB (16 MiB)
const HUGE = 0x20_0000_0000; // 8 pages of 2 MiB
const GIANT = 0x40_0000_0000; // one 1 GiB page (mapped onto low RAM again: only translation matters)

function run(preset: TlbPreset): string {
  const ram = Ram.create({ sizeBytes: '64MiB' });
  const one = new PageTableBuilder(ram, 0x100000, 0x800000);
  const two = new PageTableBuilder(ram, 0x800000, 0x1000000);
  for (const pt of [one, two]) {
    pt.mapRange(SMALL, 0x1000000, 4096 * 4096, 1);
    pt.mapRange(HUGE, 0x2000000, 8 * 2097152, 2);
    pt.map(GIANT, 0, 3);
  }
  const cpu = new Cpu(ram, { preset });
  cpu.setCr3(one.cr3, 1);
  const prng = new Prng(20261207);
  const vaddr = (): number => {
    const r = prng.int(100);
    // Mostly a hot set of 48 small pages, then the whole small range, the huge pages, the giant one.
    if (r < 55) return SMALL + prng.int(48) * 4096 + 4 * prng.int(1024);
    if (r < 80) return SMALL + prng.int(4096) * 4096 + 4 * prng.int(1024);
    if (r < 95) return HUGE + 4 * prng.int((8 * 2097152) / 4);
    return GIANT + 0x3000000 + 4 * prng.int(1 << 20); // frames 48 … 52 MiB: clear of the tables
  };
  let sum = 0;
  for (let op = 0; op < 20_000; op++) {
    const r = prng.int(1000);
    if (r < 600) sum = (sum + cpu.load32(vaddr())) | 0;
    else if (r < 750) cpu.store32(vaddr(), op);
    else if (r < 800) sum = (sum + cpu.load8(vaddr() + prng.int(4))) | 0;
    else if (r < 830) cpu.store8(vaddr() + prng.int(4), op & 0xff);
    else if (r < 850) sum = (sum + cpu.load32(vaddr() + 2)) | 0; // unaligned: may cross a page
    else if (r < 950) {
      const batch = Float64Array.from({ length: 1 + prng.int(300) }, vaddr);
      sum = (sum + cpu.loadMany(batch)) | 0;
    } else if (r < 970) cpu.invlpg(vaddr());
    else if (r < 985) cpu.setCr3(prng.int(2) === 0 ? one.cr3 : two.cr3, 1 + prng.int(2));
    else if (r < 990) cpu.setCr3(one.cr3, 0);
    else if (r < 995) cpu.setUser(prng.int(2) === 0);
    else cpu.flushPcid(1 + prng.int(2));
  }
  cpu.validate();
  const s = cpu.stats();
  const arrays = s.tlb.arrays.map((a) => `${a.hits}/${a.misses}/${a.fills}/${a.evictions}`).join(' ');
  return `acc ${s.accesses} tlb ${Object.values(s.tlb.counters).join('/')} walks ${s.walks}/${s.walkReads}/${s.walkCacheHits.join('/')}/${s.faults} cycles ${s.cycles} arrays ${arrays}`;
}

const RECORDED: [string, () => TlbPreset, string][] = [
  ['skylake', () => skylake(),
    'acc 331113 tlb 196514/134599/45444/89155/539/206 walks 89317/354766/0/0/0/0 cycles 6126972 arrays 132923/0/132526/124095 47585/0/1968/0 16006/0/267/0 45444/0/89050/5726 0/0/267/0',
  ],
  ['skylake + walk caches', () => skylake(true),
    'acc 331113 tlb 196514/134599/45444/89155/537/206 walks 89315/96070/82191/5750/615/0 cycles 3022620 arrays 132923/0/132524/124095 47585/0/1968/0 16006/0/267/0 45444/0/89048/5726 0/0/267/0 82191/759/4889/0 5750/0/1107/40 615/0/759/0',
  ],
  ['zen3', () => zen3(),
    'acc 331113 tlb 176395/154718/65574/89144/542/206 walks 89309/354385/0/0/0/0 cycles 6363960 arrays 176395/0/154883/146333 65574/0/88869/1897',
  ],
  ['fully associative 64', () => fullyAssociative(64),
    'acc 331113 tlb 176395/154718/0/154718/449/206 walks 154790/608912/0/0/0/0 cycles 608912 arrays 176395/0/154790/146333',
  ],
];

if (process.env.PRINT_COUNTS === '1') for (const [name, preset] of RECORDED) console.log(name, JSON.stringify(run(preset())));
for (const [name, preset, expected] of RECORDED) {
  test(`${name}: the seeded trace's counters are exactly the recorded ones`, () => {
    assert.equal(run(preset()), expected);
  });
}
