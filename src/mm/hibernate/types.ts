/**
 * Hibernation (mm/hibernate/): an image of RAM — the kernel's state included, since all of it lives
 * in the arena — that a fresh process resumes from, as Linux's suspend-to-disk (kernel/power/)
 * saves every page in use and restores it before the kernel continues.
 *
 * Which frames the image saves (Linux's saveable_page() in kernel/power/snapshot.c in spirit):
 * every frame except free ones (buddy and per-CPU lists: their bytes mean nothing) and NoSave ones
 * (PageFlag.NoSave, Linux's PageNosave). Sensitive frames follow the secrets policy:
 *   refuse   no image while any frame is tagged Sensitive (Linux refuses to hibernate while
 *            memfd_secret memory exists: secretmem_active() in hibernation_available())
 *   exclude  sensitive frames are left out, as NoSave ones; after resume they read as zeros
 *   zero     sensitive frames are saved as zeros (the file has their slots; same resumed state)
 * Frames left out are zero after resume; their struct page is saved (it is kernel data), so each
 * stays allocated to its owner.
 *
 * File layout (little-endian):
 *   0   magic 'KMEMHIBR' (8 bytes)      24  u32 flags: bit 0 the RAM was a SharedArrayBuffer
 *   8   u32 version (1)                 28  u32 saved frames (bits set in the bitmap)
 *   12  u32 page size in bytes          32  u32 frames left out for secrets (Sensitive, NoSave)
 *   16  u32 nrPages                     36  u32 CRC-32 of bitmap and pages (util/crc32.ts)
 *   20  u32 secrets policy              40  u32 CRC-32 of header bytes [0, 40)
 *   44  bitmap, ceil(nrPages / 8) bytes: bit set = the frame's bytes follow
 *   ..  page-size bytes per set bit, in pfn order
 *
 * Resume checks the whole file (magic, version, sizes, both checksums) before it builds any RAM, and
 * validate()s the kernel before it hands it back: a damaged or truncated image is a
 * HibernationImageError and no kernel exists. Host-side only; the image holds no state of its own.
 * The caller freezes the machine first (Linux's freeze_processes()): no other worker may run while
 * the image is taken.
 */
import { KmemError } from '../../util/errors.ts';
import { ImageFormatError } from '../image-format.ts';
import type { ImageFormat } from '../image-format.ts';

export const HIBERNATE_MAGIC = 'KMEMHIBR';
export const HIBERNATE_VERSION = 1;
export const HIBERNATE_HEADER_BYTES = 44;

export const SecretsPolicy = { Refuse: 0, Exclude: 1, Zero: 2 } as const;
export type SecretsPolicy = (typeof SecretsPolicy)[keyof typeof SecretsPolicy];
export const SECRETS_POLICY_NAMES = ['refuse', 'exclude', 'zero'] as const;
export type SecretsPolicyName = (typeof SECRETS_POLICY_NAMES)[number];

export interface HibernateHeader {
  version: number;
  pageSizeBytes: number;
  nrPages: number;
  policy: SecretsPolicyName;
  shared: boolean;
  savedPages: number;
  secretPages: number;
}

/** An image that is not one, damaged or cut short: names the offset and what was expected there. */
export class HibernationImageError extends ImageFormatError {
  override name = 'HibernationImageError';
  constructor(offset: number, message: string) {
    super(offset, 'hibernation image', message);
  }
}

export const HIBERNATE_FORMAT: ImageFormat = {
  magic: HIBERNATE_MAGIC,
  headerBytes: HIBERNATE_HEADER_BYTES,
  bodyCrcAt: 36,
  what: 'kmem hibernation image',
  fail: (offset, message) => new HibernationImageError(offset, message),
};

/** The 'refuse' policy met a sensitive frame: no image was written. */
export class HibernationRefusedError extends KmemError {
  override name = 'HibernationRefusedError';
  constructor(
    readonly pfn: number,
    readonly sensitivePages: number,
  ) {
    super(`hibernation refused: ${sensitivePages} frame(s) tagged Sensitive (the first at pfn ${pfn}); expected none under the 'refuse' policy (as Linux while memfd_secret memory exists)`);
  }
}
