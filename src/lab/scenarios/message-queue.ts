/**
 * message-queue: the seed's postal sorting office. A queue holds messages of variable payload; the
 * same stream of arrivals and departures runs against three designs:
 *
 *   fixed slots   one kmem cache of (header + largest payload)-byte slots: every message reserves
 *                 the worst case ("a truck for every letter")
 *   slab          a kmem cache for the message headers and kmalloc for the payloads: each part
 *                 from a size class that fits it
 *   general       @thi.ng/malloc's MemPool, the JavaScript ecosystem's general-purpose allocator,
 *                 one block of header + payload per message
 *
 * Measured from what happened: bytes requested (header + payload of live messages) against bytes
 * reserved (the slots, ksize() of each object, MemPool's blocks), sampled over the run; peak memory
 * (pages the kernel gave the slab allocator, or the pool's high-water mark); and, in a separate
 * timed pass over the same stream, nanoseconds per message (enqueue + dequeue).
 */
import { Kernel } from '../../mm/kernel.ts';
import { PAGE_SIZE } from '../../mm/types.ts';
import { Prng } from '../../util/prng.ts';
import { formatBytes } from '../../util/units.ts';
import { MeasuredPool } from '../measured-pool.ts';
import { defineScenario } from '../scenario.ts';
import type { Plot, Table } from '../scenario.ts';

type Distribution = 'lognormal' | 'uniform' | 'bimodal';

interface Stream {
  /** +payload bytes for an arrival, -1 for a departure (the oldest message leaves). */
  events: Int32Array;
}

/** The request stream: arrivals and departures keep the queue near `depth`; payloads drawn from `dist`. */
function makeStream(seed: number, messages: number, depth: number, dist: Distribution, meanBytes: number, maxBytes: number): Stream {
  const prng = new Prng(seed);
  const events: number[] = [];
  let queued = 0;
  let arrived = 0;
  const sigma = 0.8;
  const mu = Math.log(meanBytes) - (sigma * sigma) / 2;
  const payload = (): number => {
    let bytes: number;
    if (dist === 'uniform') bytes = prng.range(1, maxBytes);
    else if (dist === 'bimodal') bytes = prng.chance(0.8) ? prng.range(1, Math.max(1, Math.round(meanBytes / 2))) : prng.range(Math.round(maxBytes / 2), maxBytes);
    else {
      const u = 1 - prng.nextFloat();
      const v = prng.nextFloat();
      bytes = Math.round(Math.exp(mu + sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)));
    }
    return Math.min(maxBytes, Math.max(1, bytes));
  };
  while (arrived < messages) {
    // A mean-reverting walk around the target depth.
    const pArrive = Math.min(0.95, Math.max(0.05, 0.5 + (depth - queued) / (2 * depth)));
    if (queued === 0 || prng.chance(pArrive)) {
      events.push(payload());
      queued++;
      arrived++;
    } else {
      events.push(-1);
      queued--;
    }
  }
  for (; queued > 0; queued--) events.push(-1);
  return { events: Int32Array.from(events) };
}

interface Design {
  name: string;
  /** One word for plot axes and the summary. */
  short: string;
  /** Enqueues a message; returns a handle. */
  enqueue(payloadBytes: number): number;
  dequeue(handle: number): void;
  /** Bytes reserved for a live message (what its slots really take). */
  reserved(handle: number): number;
  /** Bytes of backing memory the design holds now. */
  footprint(): number;
}

/** Bytes of the pages `kernel` has handed out since the call (what it held before left out). */
function pagesTakenSince(kernel: Kernel): () => number {
  const inUse = (): number => kernel.pages.managedPagesTotal - kernel.pages.freePagesTotal;
  const base = inUse();
  return () => (inUse() - base) * PAGE_SIZE;
}

function fixedSlots(headerBytes: number, maxBytes: number): Design {
  const kernel = Kernel.boot({ ramBytes: '512MiB' });
  const cache = kernel.createCache('msg_fixed', headerBytes + maxBytes);
  const footprint = pagesTakenSince(kernel);
  return {
    name: 'fixed max-size slots',
    short: 'fixed',
    enqueue: () => cache.alloc() as number,
    dequeue: (h) => cache.free(h),
    reserved: () => cache.size,
    footprint,
  };
}

function slabDesign(headerBytes: number): Design {
  const kernel = Kernel.boot({ ramBytes: '512MiB' });
  const headers = kernel.createCache('msg_header', headerBytes);
  const w = new Int32Array(kernel.buffer);
  const footprint = pagesTakenSince(kernel);
  return {
    name: 'slab headers + kmalloc payloads',
    short: 'slab',
    enqueue: (bytes) => {
      const header = headers.alloc() as number;
      w[header >>> 2] = kernel.kmalloc(bytes) as number;
      return header;
    },
    dequeue: (h) => {
      kernel.kfree(w[h >>> 2] as number);
      headers.free(h);
    },
    reserved: (h) => headers.size + kernel.ksize(w[h >>> 2] as number),
    footprint,
  };
}

function generalDesign(headerBytes: number): Design {
  const pool = new MeasuredPool({ size: 256 << 20, align: 8 });
  return {
    name: 'general-purpose (@thi.ng/malloc MemPool)',
    short: 'general',
    enqueue: (bytes) => pool.malloc(headerBytes + bytes),
    dequeue: (h) => void pool.free(h),
    reserved: (h) => pool.blockBytes(h),
    footprint: () => pool.highWater,
  };
}

export const messageQueue = defineScenario({
  name: 'message-queue',
  title: 'A message queue: slab caches vs. fixed max-size slots vs. a general allocator',
  question:
    'A message queue allocates and frees the same kind of object with variable payloads: how much memory does each design reserve beyond what the messages need, and how fast is it?',
  wallClock: true,
  params: {
    messages: { kind: 'int', default: 200_000, min: 100, max: 10_000_000, description: 'messages enqueued (each is dequeued once)' },
    queueDepth: { kind: 'int', default: 2000, min: 1, max: 200_000, description: 'messages in the queue on average' },
    payload: { kind: 'enum', values: ['lognormal', 'uniform', 'bimodal'] as const, default: 'lognormal', description: 'payload size distribution' },
    payloadMeanBytes: { kind: 'int', default: 300, min: 1, max: 65536, description: 'mean payload (lognormal, bimodal)' },
    payloadMaxBytes: { kind: 'int', default: 4096, min: 8, max: 65536, description: 'largest payload' },
    headerBytes: { kind: 'int', default: 64, min: 8, max: 4096, description: 'message header (id, timestamps, length, payload pointer)' },
    samples: { kind: 'int', default: 40, min: 2, max: 1000, description: 'points sampled over the run' },
  },
  smoke: { messages: 3000, queueDepth: 200 },
  check: (p) =>
    p.payloadMeanBytes > p.payloadMaxBytes
      ? `--payload-mean-bytes ${p.payloadMeanBytes} is larger than --payload-max-bytes ${p.payloadMaxBytes}: the mean cannot exceed the largest payload`
      : p.queueDepth > p.messages
        ? `--queue-depth ${p.queueDepth} is larger than --messages ${p.messages}: the queue never holds more messages than are sent`
        : null,
  run(params, ctx) {
    const messages = params.messages;
    const depth = params.queueDepth;
    const stream = makeStream(ctx.seed, messages, depth, params.payload as Distribution, params.payloadMeanBytes, params.payloadMaxBytes);
    const makers = [
      () => fixedSlots(params.headerBytes, params.payloadMaxBytes),
      () => slabDesign(params.headerBytes),
      () => generalDesign(params.headerBytes),
    ];
    const events = stream.events;
    const sampleEvery = Math.max(1, Math.floor(events.length / params.samples));
    const runs = makers.map((make, index) => {
      const design = make();
      const queue = new Int32Array(messages);
      const payloads = new Int32Array(messages);
      let head = 0;
      let tail = 0;
      let requested = 0;
      let reserved = 0;
      let peakRequested = 0;
      let peakReserved = 0;
      let peakFootprint = 0;
      const points: { step: number; requested: number; reserved: number; footprint: number }[] = [];
      for (let i = 0; i < events.length; i++) {
        const e = events[i] as number;
        if (e >= 0) {
          const h = design.enqueue(e);
          queue[tail] = h;
          payloads[tail++] = e;
          requested += params.headerBytes + e;
          reserved += design.reserved(h);
        } else {
          const h = queue[head] as number;
          requested -= params.headerBytes + (payloads[head++] as number);
          reserved -= design.reserved(h);
          design.dequeue(h);
        }
        peakRequested = Math.max(peakRequested, requested);
        peakReserved = Math.max(peakReserved, reserved);
        if ((i + 1) % sampleEvery === 0) {
          const footprint = design.footprint();
          peakFootprint = Math.max(peakFootprint, footprint);
          points.push({ step: i, requested, reserved, footprint });
        }
      }
      ctx.progress(index + 1, makers.length * 2, design.name);
      // Waste at the peak, as a percentage of the bytes reserved.
      const waste = (100 * (peakReserved - peakRequested)) / peakReserved;
      return { name: design.name, short: design.short, peakRequested, peakReserved, waste, peakFootprint, points };
    });
    // The timed pass: the same stream again on a fresh instance of each design, nothing else done.
    const timings = makers.map((make, index) => {
      const design = make();
      const queue = new Int32Array(messages);
      let head = 0;
      let tail = 0;
      const started = performance.now();
      for (let i = 0; i < events.length; i++) {
        const e = events[i] as number;
        if (e >= 0) queue[tail++] = design.enqueue(e);
        else design.dequeue(queue[head++] as number);
      }
      const ns = ((performance.now() - started) * 1e6) / messages;
      ctx.progress(makers.length + index + 1, makers.length * 2, design.name);
      return ns;
    });
    const table: Table = {
      id: 'designs',
      title: 'Memory at the peak of the queue',
      columns: [
        { key: 'design', label: 'design' },
        { key: 'requested', label: 'bytes requested (peak)' },
        { key: 'reserved', label: 'bytes reserved (peak)' },
        { key: 'waste', label: 'waste', unit: '% of reserved', digits: 1 },
        { key: 'footprint', label: 'memory taken (peak)', unit: 'bytes' },
      ],
      rows: runs.map((r) => ({
        design: r.name,
        requested: r.peakRequested,
        reserved: r.peakReserved,
        waste: r.waste,
        footprint: r.peakFootprint,
      })),
      note: 'Reserved: what the allocator set aside for the live messages (slots, size classes, block headers). Memory taken: pages given to the slab allocator (kernel metadata of the caches included), or the pool’s high-water mark.',
    };
    const speed: Table = {
      id: 'speed',
      title: 'Time per message (enqueue + dequeue), same stream',
      timing: true,
      columns: [
        { key: 'design', label: 'design' },
        { key: 'ns', label: 'ns per message', digits: 1 },
      ],
      rows: runs.map((r, i) => ({ design: r.name, ns: timings[i] ?? NaN })),
    };
    // While the queue holds messages: the drain at the end (nothing requested) says nothing and a
    // log axis cannot show zero.
    const live = (r: (typeof runs)[number]) => r.points.filter((p) => p.requested > 0);
    const plots: Plot[] = [
      {
        id: 'reserved',
        title: 'Bytes reserved and requested while the queue holds messages, per design',
        kind: 'line',
        x: { label: 'queue operations' },
        y: { label: 'bytes', format: 'bytes' },
        panelY: 'independent',
        series: runs.flatMap((r) => [
          { label: 'reserved', panel: r.name, points: live(r).map((p): [number, number] => [p.step, p.reserved]) },
          { label: 'requested (header + payload)', panel: r.name, style: 'dashed' as const, points: live(r).map((p): [number, number] => [p.step, p.requested]) },
        ]),
        note: 'Each design on its own y range, so that reserved and requested stay apart; the waste chart compares the designs. Samples after the queue has drained (nothing requested) are left out.',
      },
      {
        id: 'waste',
        title: 'Waste at the peak (% of bytes reserved)',
        kind: 'bar',
        x: { label: 'design' },
        y: { label: '% of bytes reserved that no message uses' },
        series: runs.map((r) => ({ label: r.name, points: [[0, r.waste]] })),
      },
      {
        id: 'ns-per-message',
        title: 'Time per message, enqueue + dequeue (wall clock)',
        kind: 'bar',
        timing: true,
        x: { label: 'design' },
        y: { label: 'ns per message' },
        series: runs.map((r, i) => ({ label: r.name, points: [[0, timings[i] ?? 0]] })),
      },
    ];
    const [fixed, slab, general] = runs;
    const pct = (r: (typeof runs)[number] | undefined): string => (r === undefined ? '?' : r.waste.toFixed(1));
    const leanest = runs.reduce((a, b) => (a.waste <= b.waste ? a : b));
    const fastest = runs.reduce((a, b, i) => ((timings[i] ?? Infinity) < (timings[runs.indexOf(a)] ?? Infinity) ? b : a));
    return {
      answer: `${leanest.name} wastes least at the peak (${leanest.waste.toFixed(1)}% of what it reserves; fixed slots ${pct(fixed)}%, slab ${pct(slab)}%, general ${pct(general)}%); fastest here: ${fastest.name}.`,
      summary: [
        `${messages} messages, queue depth ~${depth}, ${params.payload} payloads (mean ${params.payloadMeanBytes} B, max ${params.payloadMaxBytes} B), ${params.headerBytes}-byte headers.`,
        `Waste at the peak: fixed slots ${pct(fixed)}%, slab + kmalloc ${pct(slab)}%, general-purpose ${pct(general)}%.`,
        `Peak memory taken: fixed ${formatBytes(fixed?.peakFootprint ?? 0)}, slab ${formatBytes(slab?.peakFootprint ?? 0)}, general ${formatBytes(general?.peakFootprint ?? 0)}.`,
      ],
      tables: [table, speed],
      plots,
    };
  },
});
