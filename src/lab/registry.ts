/**
 * Every scenario kmem knows, in the order the report shows them. A new scenario is added here.
 */
import { ArgumentError } from '../util/errors.ts';
import type { AnyScenario } from './scenario.ts';
import { buddyFragmentation } from './scenarios/buddy-fragmentation.ts';
import { dmaCoherence } from './scenarios/dma-coherence.ts';
import { forkDuringDma } from './scenarios/fork-during-dma.ts';
import { thpTlb } from './scenarios/thp-tlb.ts';
import { flashGc } from './scenarios/flash-gc.ts';
import { gpuWarpSlab } from './scenarios/gpu-warp-slab.ts';
import { lockMemory } from './scenarios/lock-memory.ts';
import { messageQueue } from './scenarios/message-queue.ts';
import { rcu } from './scenarios/rcu.ts';
import { secrets } from './scenarios/secrets.ts';

export const SCENARIOS: readonly AnyScenario[] = [messageQueue, buddyFragmentation, thpTlb, dmaCoherence, forkDuringDma, secrets, lockMemory, rcu, gpuWarpSlab, flashGc];

export class UnknownScenarioError extends ArgumentError {
  override name = 'UnknownScenarioError';
}

export function findScenario(name: string): AnyScenario {
  const scenario = SCENARIOS.find((s) => s.name === name);
  if (scenario === undefined) {
    throw new UnknownScenarioError(`no scenario '${name}': expected one of ${SCENARIOS.map((s) => s.name).join(', ')}`);
  }
  return scenario;
}
