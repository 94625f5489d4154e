/**
 * secrets: where a key in RAM escapes. The seed's fifth system: a program holds a key in secret
 * memory (secretAlloc), in ordinary memory it protects (mlock, MADV_DONTDUMP), and in ordinary memory
 * untagged, while the machine is under pressure, swaps, writes a crash dump and a hibernation image,
 * and frees the memory; every output is searched for each key (lab/workloads/secrets-run.ts). Half
 * the runs tag (the kernel honours the tags), half do not (the control, which shows the search finds
 * keys when they are there). A second table overflows a buffer by 1 … 4096 bytes in secret memory, a
 * KFENCE-sampled kmalloc object and ordinary memory, and says what caught it
 * (lab/workloads/secrets-overflow.ts); see docs/dump-hibernate-swap.md.
 */
import { defineScenario } from '../scenario.ts';
import type { Table } from '../scenario.ts';
import { KEY_PLACES, OUTPUTS, secretsSweep } from '../workloads/secrets-run.ts';
import type { Output } from '../workloads/secrets-run.ts';
import { OVERFLOW_BUFFER_BYTES, overflowTable } from '../workloads/secrets-overflow.ts';
import { PAGE_SIZE } from '../../mm/types.ts';

const PLACE_LABELS = { secret: 'secret memory (secretAlloc)', tagged: 'ordinary, tagged (mlock, DONTDUMP, NoSave)', untagged: 'ordinary, untagged' } as const;
const OUTPUT_LABELS: Record<Output, string> = { dump: 'crash dump', image: 'hibernation image', freed: 'freed frames', swap: 'swap device' };
const OVERFLOW_LABELS = { secret: 'secret memory (secretAlloc)', kfence: 'kmalloc object sampled by KFENCE', ordinary: 'ordinary memory (mmap), neighbour mapped' } as const;

export const secrets = defineScenario({
  name: 'secrets',
  title: 'Guardian of secrets: a key in RAM against crash dumps, hibernation images and freed frames',
  question:
    'A key sits in secret memory, in tagged ordinary memory and in untagged ordinary memory while the machine dumps, hibernates and frees under pressure: how many of its bytes does a search of each output find, with the kernel honouring the tags and without?',
  params: {
    runs: { kind: 'int', default: 200, min: 2, max: 100_000, description: 'randomised runs (half tagging on, half the control)' },
    ramBytes: { kind: 'size', default: 8 << 20, min: 4 << 20, max: 256 << 20, multipleOf: PAGE_SIZE, description: 'RAM of each run’s machine' },
  },
  smoke: { runs: 10 },
  run(params, ctx) {
    const sweep = secretsSweep(ctx.seed, params.runs, params.ramBytes, (done) => ctx.progress(done, params.runs, 'runs'));
    const table: Table = {
      id: 'found',
      title: `Key bytes found in each output, summed over ${params.runs} runs`,
      columns: [
        { key: 'tagging', label: 'tagging' },
        { key: 'place', label: 'key held in' },
        ...OUTPUTS.map((o) => ({ key: o, label: OUTPUT_LABELS[o], unit: 'B' })),
      ],
      rows: (['on', 'off'] as const).flatMap((t) => KEY_PLACES.map((p) => ({ tagging: t, place: PLACE_LABELS[p], ...sweep.found[t][p] }))),
      note: 'Each run draws the key length, the pressure (anonymous pages and kmalloc objects), the dump level (makedumpfile -d 0..31), the dump and image policies, and whether each output is taken (and reclaim swaps everything it may out) before or after the free. The swap device keeps the bytes of freed slots. Untagged keys leak by design: the kernel cannot know them.',
    };
    const overflows = overflowTable();
    const overflow: Table = {
      id: 'overflow',
      title: `A linear overflow past a ${OVERFLOW_BUFFER_BYTES}-byte buffer, every length from 1 to 4096 bytes: what catches it`,
      columns: [
        { key: 'place', label: 'buffer in' },
        { key: 'lengths', label: 'overflow' },
        { key: 'attempts', label: 'attempts' },
        { key: 'caught', label: 'caught' },
        { key: 'by', label: 'caught by' },
      ],
      rows: overflows.map((r) => ({ place: OVERFLOW_LABELS[r.place], lengths: r.fromBytes === r.toBytes ? `${r.fromBytes} B` : `${r.fromBytes}–${r.toBytes} B`, attempts: r.attempts, caught: r.caught, by: r.caughtBy === '' ? 'nothing: the neighbour is overwritten' : r.caughtBy })),
      note: 'Secret memory ends at a guard page (secretAlloc right-aligns the object); KFENCE places a sampled object at its page end before a guard page. Ordinary memory has the program’s own next page after it.',
    };
    const caught = (place: 'secret' | 'kfence' | 'ordinary'): string => {
      const rows = overflows.filter((r) => r.place === place);
      return `${rows.reduce((s, r) => s + r.caught, 0)} of ${rows.reduce((s, r) => s + r.attempts, 0)}`;
    };
    const sum = (t: 'on' | 'off', p: 'secret' | 'tagged'): number => OUTPUTS.reduce((s, o) => s + sweep.found[t][p][o], 0);
    return {
      summary: [
        `With tagging on, ${sweep.leakingRuns} of ${Math.ceil(params.runs / 2)} runs leaked a tagged key byte (${sum('on', 'secret') + sum('on', 'tagged')} bytes in all); hibernation refused ${sweep.imagesRefused} times under the 'refuse' policy.`,
        `With tagging off the same search found ${sum('off', 'secret')} bytes of the secret key and ${sum('off', 'tagged')} of the tagged one (${sweep.found.off.secret.swap} of them in the swap device); ${sweep.controlMisses} control images or swap devices taken while the key was live missed it.`,
        `Overflows of 1 to 4096 bytes caught: ${caught('secret')} from secret memory (guard page), ${caught('kfence')} from a KFENCE-sampled object, ${caught('ordinary')} from ordinary memory.`,
      ],
      tables: [table, overflow],
      plots: [],
    };
  },
});
