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
