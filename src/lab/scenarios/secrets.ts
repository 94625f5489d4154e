/**
 * secrets: where a key in RAM escapes. The seed's fifth system: a program holds a key in secret
 * memory, in ordinary memory it tagged, and in ordinary memory untagged, while the machine is under
 * pressure, writes a crash dump and a hibernation image, and frees the memory; every output is
 * searched for each key (lab/workloads/secrets-run.ts). Half the runs tag (the kernel honours the
 * tags), half do not (the control, which shows the search finds keys when they are there).
 * Not covered yet: swap (kmem has no swap device) and the neighbour's overflow into a guard page
 * (secrets-mem's guarded allocation is not on main); see docs/dump-hibernate-swap.md.
 */
import { defineScenario } from '../scenario.ts';
import type { Table } from '../scenario.ts';
import { KEY_PLACES, OUTPUTS, secretsSweep } from '../workloads/secrets-run.ts';

const PLACE_LABELS = { secret: 'secret memory (memfd_secret tags)', tagged: 'ordinary, tagged (NoDump, NoSave)', untagged: 'ordinary, untagged' } as const;

export const secrets = defineScenario({
  name: 'secrets',
  title: 'Guardian of secrets: a key in RAM against crash dumps, hibernation images and freed frames',
  question:
    'A key sits in secret memory, in tagged ordinary memory and in untagged ordinary memory while the machine dumps, hibernates and frees under pressure: how many of its bytes does a search of each output find, with the kernel honouring the tags and without?',
  params: {
    runs: { kind: 'int', default: 200, min: 2, max: 100_000, description: 'randomised runs (half tagging on, half the control)' },
    ramBytes: { kind: 'size', default: 8 << 20, min: 4 << 20, max: 256 << 20, description: 'RAM of each run’s machine' },
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
        ...OUTPUTS.map((o) => ({ key: o, label: o === 'dump' ? 'crash dump' : o === 'image' ? 'hibernation image' : 'freed frames', unit: 'B' })),
      ],
      rows: (['on', 'off'] as const).flatMap((t) => KEY_PLACES.map((p) => ({ tagging: t, place: PLACE_LABELS[p], ...sweep.found[t][p] }))),
      note: 'Each run draws the key length, the pressure (anonymous pages and kmalloc objects), the dump level (makedumpfile -d 0..31), the dump and image policies, and whether each output is taken before or after the free. Untagged keys leak by design: the kernel cannot know them.',
    };
    const sum = (t: 'on' | 'off', p: 'secret' | 'tagged'): number => OUTPUTS.reduce((s, o) => s + sweep.found[t][p][o], 0);
    return {
      summary: [
        `With tagging on, ${sweep.leakingRuns} of ${Math.ceil(params.runs / 2)} runs leaked a tagged key byte (${sum('on', 'secret') + sum('on', 'tagged')} bytes in all); hibernation refused ${sweep.imagesRefused} times under the 'refuse' policy.`,
        `With tagging off the same search found ${sum('off', 'secret')} bytes of the secret key and ${sum('off', 'tagged')} of the tagged one; ${sweep.controlMisses} control images taken while the key was live missed it.`,
      ],
      tables: [table],
      plots: [],
    };
  },
});
