/**
 * The explorer's page: builds the live machines (one, or two designs side by side on the same
 * request stream), steps or plays them, and wires the scenario and trace panels. `window.kmemExplorer`
 * exposes the machines and their drawn census to tests.
 */
import { LiveMachine } from './machine.ts';
import { MachineView } from './views/machine-view.ts';
import { setupScenarioView } from './views/scenario-view.ts';
import { setupTraceView } from './views/trace-view.ts';
import { VmView } from './views/vm-view.ts';
import { DmaView } from './views/dma-view.ts';
import { SecretView } from './views/secret-view.ts';
import { RcuView } from './views/rcu-view.ts';
import { FlashView } from './views/flash-view.ts';
import { GpuView } from './views/gpu-view.ts';

function byId<T extends HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`explorer page: no element #${id}`);
  return node as T;
}

const ram = byId<HTMLSelectElement>('ram');
const seedInput = byId<HTMLInputElement>('seed');
const workersInput = byId<HTMLInputElement>('workers');
const compare = byId<HTMLInputElement>('compare');
const speed = byId<HTMLInputElement>('speed');
const speedOut = byId<HTMLOutputElement>('speed-out');
const playButton = byId<HTMLButtonElement>('play');
const machinesRoot = byId<HTMLElement>('machines');
const info = byId<HTMLElement>('frame-info');
const seed = (): number => Number(seedInput.value) || 0;

const isolated = globalThis.crossOriginIsolated === true;
byId<HTMLElement>('isolation').textContent = isolated
  ? 'Cross-origin isolated: the kernel lives in a SharedArrayBuffer and worker CPUs attach to it.'
  : 'Not cross-origin isolated: no SharedArrayBuffer here, so the machine runs without worker CPUs.';
if (!isolated) workersInput.disabled = true;

let views: MachineView[] = [];
let playing = false;
let busy: Promise<void> = Promise.resolve();

async function reset(): Promise<void> {
  playing = false;
  playButton.textContent = 'Play';
  await Promise.all(views.map((v) => v.machine.dispose()));
  const workers = isolated ? Math.max(0, Math.min(4, Number(workersInput.value) || 0)) : 0;
  const designs = compare.checked ? [true, false] : [true];
  // Worker CPUs run on the first machine only: the second replays the page's own stream.
  const machines = await Promise.all(designs.map((groupByMobility, i) => LiveMachine.create({ ramMiB: Number(ram.value), seed: seed(), groupByMobility, workers: i === 0 ? workers : 0 })));
  views = machines.map((m) => new MachineView(m, info));
  machinesRoot.replaceChildren(...views.map((v) => v.root));
  for (const v of views) v.render();
}

async function step(steps: number): Promise<void> {
  await Promise.all(views.map((v) => v.machine.step(steps)));
  for (const v of views) v.render();
  byId<HTMLElement>('step-count').textContent = `${views[0]?.machine.steps.toLocaleString() ?? 0} steps`;
}

function queue(work: () => Promise<void>): Promise<void> {
  busy = busy.then(work).catch((error: unknown) => {
    playing = false;
    machinesRoot.prepend(Object.assign(document.createElement('p'), { className: 'error', textContent: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }));
  });
  return busy;
}

function play(): void {
  if (!playing) return;
  void queue(() => step(Number(speed.value))).then(() => requestAnimationFrame(play));
}

speed.addEventListener('input', () => (speedOut.value = speed.value));
byId<HTMLButtonElement>('reset').addEventListener('click', () => void queue(reset));
byId<HTMLButtonElement>('step').addEventListener('click', () => void queue(() => step(Number(speed.value))));
playButton.addEventListener('click', () => {
  playing = !playing;
  playButton.textContent = playing ? 'Pause' : 'Play';
  play();
});
for (const input of [ram, workersInput, compare]) input.addEventListener('change', () => void queue(reset));

setupScenarioView(byId('scenario-form'), byId('scenario-name'), byId('scenario-params'), byId('scenario-smoke'), byId('scenario-result'), seed);
setupTraceView(byId('trace-file'), byId('trace-generate'), byId('trace-result'), seed);
const vmView = new VmView(seed, queue);
byId<HTMLElement>('vm').append(vmView.root);
vmView.render();
const dmaView = new DmaView(seed, queue);
byId<HTMLElement>('dma').append(dmaView.root);
dmaView.render();
const secretView = new SecretView(seed, queue);
byId<HTMLElement>('secrets').append(secretView.root);
secretView.render();
const rcuView = new RcuView(seed, queue);
byId<HTMLElement>('rcu').append(rcuView.root);
rcuView.render();
const flashView = new FlashView(seed, queue);
byId<HTMLElement>('flash').append(flashView.root);
flashView.render();
const gpuView = new GpuView(seed, queue);
byId<HTMLElement>('gpu').append(gpuView.root);

declare global {
  interface Window {
    kmemExplorer: { ready: Promise<void>; views: () => MachineView[]; idle: () => Promise<void>; vm: VmView; dma: DmaView; secrets: SecretView; rcu: RcuView; flash: FlashView; gpu: GpuView };
  }
}
window.kmemExplorer = { ready: queue(reset), views: () => views, idle: () => busy, vm: vmView, dma: dmaView, secrets: secretView, rcu: rcuView, flash: flashView, gpu: gpuView };
