/**
 * What the RCU front (rcu.ts) needs from a flavour: a read side, a way to start a grace period
 * (a cookie, as Linux's get_state_synchronize_rcu()) and a way to ask whether it has ended
 * (poll_state_synchronize_rcu()). Cookies of one flavour increase; a later cookie's grace period
 * ending implies every earlier one's has.
 */
export type RcuFlavourName = 'qsbr' | 'epoch';

export interface RcuFlavour {
  readonly name: RcuFlavourName;
  /** Host-side nesting depth of this CPU's read sections. */
  readonly nesting: number;
  readLock(): void;
  readUnlock(): void;
  /** This CPU is outside every read section now (QSBR: reports it; epoch: a check only). */
  quiescentState(): void;
  /** This CPU takes part in grace periods from now on / no longer (an idle or exiting thread). */
  online(): void;
  offline(): void;
  /** Starts (or joins) a grace period; a cookie to poll. */
  startGp(): number;
  /** Whether the grace period of `cookie` has ended (may advance it). */
  gpDone(cookie: number): boolean;
  /** CPUs holding up the grace period of `cookie` now. */
  holders(cookie: number): number[];
  /** The flavour's current counter (QSBR counter or global epoch), for reports. */
  readonly counter: number;
}
