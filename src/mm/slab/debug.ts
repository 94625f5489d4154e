/**
 * Slab debugging as Linux's slab_debug=Z and =P (Documentation/mm/slub.rst; bytes from
 * include/linux/poison.h):
 *
 *   red zones   the redLeftPad bytes before an object and the bytes from its end to `inuse` hold
 *               0xcc while it is allocated and 0xbb while it is free; a different byte means
 *               something wrote outside the object
 *   poison      a free object holds 0x6b with 0xa5 in its last byte; a different byte means
 *               something wrote to it after it was freed (not done for caches with a constructor,
 *               whose objects must keep their constructed state)
 *
 * Checks run on every alloc and free of a debug cache, and in validate(). A failed check names the
 * object, the offset and the byte found; the object's bytes are restored before the error is
 * raised, so the cache stays consistent.
 */
import { SlabFlag } from './layout.ts';
import type { CacheContext } from './context.ts';
import { RedZoneError, UseAfterFreeError } from './errors.ts';
import { Poison } from './types.ts';

function poisons(ctx: CacheContext): boolean {
  return (ctx.flags & (SlabFlag.POISON | SlabFlag.HAS_CTOR)) === SlabFlag.POISON;
}

/** Fills the red zones (and, when free, the poison) of the object at `obj`. */
export function initObject(ctx: CacheContext, obj: number, allocated: boolean): void {
  const bytes = ctx.bytes;
  if ((ctx.flags & SlabFlag.RED_ZONE) !== 0) {
    const value = allocated ? Poison.RED_ACTIVE : Poison.RED_INACTIVE;
    bytes.fill(value, obj - ctx.redLeftPad, obj);
    bytes.fill(value, obj + ctx.objectSize, obj + ctx.inuse);
  }
  if (!allocated && poisons(ctx)) {
    bytes.fill(Poison.FREE, obj, obj + ctx.objectSize - 1);
    bytes[obj + ctx.objectSize - 1] = Poison.END;
  }
}

/** Checks the red zones (and, when free, the poison) of `obj`; restores them and throws on damage. */
export function checkObject(ctx: CacheContext, obj: number, allocated: boolean): void {
  const bytes = ctx.bytes;
  if ((ctx.flags & SlabFlag.RED_ZONE) !== 0) {
    const expected = allocated ? Poison.RED_ACTIVE : Poison.RED_INACTIVE;
    for (const [from, to] of [
      [obj - ctx.redLeftPad, obj],
      [obj + ctx.objectSize, obj + ctx.inuse],
    ] as const) {
      for (let p = from; p < to; p++) {
        const found = bytes[p] as number;
        if (found !== expected) {
          bytes.fill(expected, from, to);
          throw new RedZoneError(obj, ctx.name, p - obj, found, expected);
        }
      }
    }
  }
  if (!allocated && poisons(ctx)) {
    const last = obj + ctx.objectSize - 1;
    for (let p = obj; p <= last; p++) {
      const expected = p === last ? Poison.END : Poison.FREE;
      const found = bytes[p] as number;
      if (found !== expected) {
        initObject(ctx, obj, false);
        throw new UseAfterFreeError(obj, ctx.name, p - obj, found, expected);
      }
    }
  }
}
