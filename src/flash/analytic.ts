/**
 * Closed-form write amplification under uniformly random single-page overwrites, used to validate
 * the emulation (never to stand in for it). α = physical / logical pages, where "physical" counts
 * the blocks holding data (the frontier included, the free blocks GC keeps in reserve not), as in
 * Desnoyers' own simulator (pjd-nu/sssl-ftlsim: T = int(U·α) + minfree). WA counts the host program
 * itself: WA = (host programs + GC copies) / host programs.
 *
 *   FIFO (LRU cleaning), Desnoyers SYSTOR 2012 / ACM TOS 2014: a page survives the length of the
 *   log, αL/A host writes, with probability e^(−α/A); a victim frees (1 − e^(−α/A)) of its pages, so
 *   1 − e^(−α/A) = 1/A, whose root is  A = α / (α + W0(−α·e^(−α)))  (W0: Lambert W, principal branch)
 *   greedy, Desnoyers' Eq. 12:  A_greedy(α, Np) ≈ A_FIFO(k·α) / k,  k = 1 + 1/(2·Np)
 *   Agarwal & Marrow (GLOBECOM 2010):  A = (1 + ρ) / (2ρ), ρ = α − 1 (an underestimate)
 *
 * Hot and cold data in separate pools (Desnoyers SYSTOR 2012 §5 / TOS 2014: segregating hot and cold
 * data, and shifting free space between the pools). A fraction r of the writes goes uniformly to a
 * fraction f of the L logical pages (hot), the rest uniformly to the others (cold). Each pool is a
 * log of its own under uniform traffic, so its WA is the uniform model at the pool's own α:
 *   hot pool:  f·L logical pages on f·L·α_h physical,  cold pool: (1 − f)·L on (1 − f)·L·α_c
 *   the space constraint   f·α_h + (1 − f)·α_c = α                                      (H1)
 *   the WA, per host write: A(α_h, α_c) = r·A_pool(α_h) + (1 − r)·A_pool(α_c)              (H2)
 * (each host write to a pool costs that pool's WA). The proportional split α_h = α_c = α gives
 * A_pool(α): separation alone removes the loss from non-uniform traffic. The best split minimises
 * (H2) under (H1); A_pool is convex and decreasing, so (H2) is convex in α_h and the minimum is where
 *   r·(1 − f)·A_pool'(α_h) = f·(1 − r)·A_pool'(α_c)                                       (H3)
 * optimalHotColdSplit() finds it by golden-section search. With Agarwal's A_pool = 1/2 + 1/(2ρ) it
 * has a closed form, used to check the search: A_opt = 1/2 + S²/(2(α − 1)), S = √(r·f) + √((1−r)(1−f)).
 */

const INV_E = Math.exp(-1);

/** Lambert W, principal branch, for x ≥ −1/e (Halley's iteration from a series start). */
export function lambertW0(x: number): number {
  if (Number.isNaN(x) || x < -INV_E - 1e-15) return NaN;
  if (x <= -INV_E) return -1;
  if (x === 0) return 0;
  let w: number;
  if (x < -0.25) {
    // Series about the branch point: p = √(2(e·x + 1)), W ≈ −1 + p − p²/3 + 11p³/72.
    const p = Math.sqrt(Math.max(0, 2 * (Math.E * x + 1)));
    w = -1 + p * (1 + p * (-1 / 3 + p * (11 / 72)));
  } else if (x < 3) {
    w = Math.log1p(x);
    w *= 1 - Math.log1p(w) / (2 + w);
  } else {
    const l1 = Math.log(x);
    const l2 = Math.log(l1);
    w = l1 - l2 + l2 / l1;
  }
  for (let i = 0; i < 64; i++) {
    const ew = Math.exp(w);
    const f = w * ew - x;
    const w1 = w + 1;
    if (w1 === 0) break;
    const step = f / (ew * w1 - ((w + 2) * f) / (2 * w1));
    w -= step;
    if (Math.abs(step) <= 1e-15 * (1 + Math.abs(w))) break;
  }
  return w;
}

/** FIFO cleaning: A = α / (α + W0(−α·e^(−α))). Infinite for α ≤ 1. */
export function waFifo(alpha: number): number {
  if (!(alpha > 1)) return Infinity;
  return alpha / (alpha + lambertW0(-alpha * Math.exp(-alpha)));
}

/** Greedy cleaning with Np pages per block (Desnoyers' Eq. 12). */
export function waGreedy(alpha: number, pagesPerBlock: number): number {
  const k = 1 + 1 / (2 * pagesPerBlock);
  return waFifo(k * alpha) / k;
}

/** Agarwal & Marrow's closed form, ρ = α − 1. */
export function waAgarwal(alpha: number): number {
  const rho = alpha - 1;
  return rho > 0 ? (1 + rho) / (2 * rho) : Infinity;
}

/** A static split of physical space between a hot and a cold pool (see the header, H1–H3). */
export interface HotColdSplit {
  /** The model's WA for this split (H2). */
  wa: number;
  /** The hot pool's α_h and the cold pool's α_c. */
  alphaHot: number;
  alphaCold: number;
}

/** (H2) for hot pool α_h under (H1); a pool with no writes (r = 0 or 1) costs nothing whatever its α. */
export function hotColdWa(alpha: number, r: number, f: number, alphaHot: number, waPool: (poolAlpha: number) => number): HotColdSplit {
  const alphaCold = (alpha - f * alphaHot) / (1 - f);
  const hot = r === 0 ? 0 : r * waPool(alphaHot);
  const cold = r === 1 ? 0 : (1 - r) * waPool(alphaCold);
  return { wa: hot + cold, alphaHot, alphaCold };
}

/**
 * The split of α between the hot pool (fraction f of the pages, r of the writes) and the cold pool
 * that minimises the model's WA (H2 under H1), each pool cleaned as a uniform log with WA waPool(α).
 * Golden-section search over α_h ∈ (1, (α − 1 + f)/f), where both pools have α > 1.
 */
export function optimalHotColdSplit(alpha: number, r: number, f: number, waPool: (poolAlpha: number) => number): HotColdSplit {
  if (!(alpha > 1)) throw new RangeError(`α = ${alpha}: expected more physical than logical pages (α > 1)`);
  if (!(r >= 0 && r <= 1)) throw new RangeError(`r = ${r}: expected a fraction of the writes in [0, 1]`);
  if (!(f > 0 && f < 1)) throw new RangeError(`f = ${f}: expected a fraction of the pages in (0, 1)`);
  const cost = (alphaHot: number): number => hotColdWa(alpha, r, f, alphaHot, waPool).wa;
  let lo = 1;
  let hi = (alpha - 1 + f) / f;
  const ratio = (Math.sqrt(5) - 1) / 2;
  let x1 = hi - ratio * (hi - lo);
  let x2 = lo + ratio * (hi - lo);
  let f1 = cost(x1);
  let f2 = cost(x2);
  for (let i = 0; i < 200 && hi - lo > 1e-13 * hi; i++) {
    if (f1 <= f2) {
      hi = x2;
      x2 = x1;
      f2 = f1;
      x1 = hi - ratio * (hi - lo);
      f1 = cost(x1);
    } else {
      lo = x1;
      x1 = x2;
      f1 = f2;
      x2 = lo + ratio * (hi - lo);
      f2 = cost(x2);
    }
  }
  return hotColdWa(alpha, r, f, (lo + hi) / 2, waPool);
}
