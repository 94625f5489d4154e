/** Takes a hibernation image of a frozen kernel and resumes one (types.ts has the format). */
import { ArgumentError } from '../../util/errors.ts';
import { checkImageBody, openImageHeader, sealImage } from '../image-format.ts';
import { Kernel } from '../kernel.ts';
import type { AttachOptions } from '../kernel.ts';
import { PAGE_SIZE, PageFlag } from '../types.ts';
import { HIBERNATE_FORMAT, HIBERNATE_HEADER_BYTES, HIBERNATE_VERSION, HibernationImageError, HibernationRefusedError, SECRETS_POLICY_NAMES, SecretsPolicy } from './types.ts';
import type { HibernateHeader, SecretsPolicyName } from './types.ts';

export interface HibernateOptions {
  /** What to do with Sensitive frames (default 'refuse', Linux's behaviour). */
  secrets?: SecretsPolicyName;
  /**
   * Which flags make a frame secret (default Sensitive | NoSave). 0 turns tagging off: the
   * secrets scenario's control run, which shows that a search of the image can find them.
   */
  tags?: number;
}

const FREE = PageFlag.Buddy | PageFlag.Pcp;

/** Writes the image of `kernel`'s RAM. HibernationRefusedError under 'refuse' with a Sensitive frame. */
export function hibernate(kernel: Kernel, options: HibernateOptions = {}): Uint8Array {
  const name = options.secrets ?? 'refuse';
  const policy = SECRETS_POLICY_NAMES.indexOf(name);
  if (policy < 0) throw new ArgumentError(`secrets policy '${String(name)}': expected one of ${SECRETS_POLICY_NAMES.join(', ')}`);
  const tags = options.tags ?? PageFlag.Sensitive | PageFlag.NoSave;
  const { flags, order } = kernel.memMap;
  const n = kernel.memMap.nrPages;
  const ram = new Uint8Array(kernel.buffer);
  // Each frame: 0 left out (free), 1 saved, 2 a secret (left out or zeroed by the policy).
  const what = new Uint8Array(n);
  let sensitive = 0;
  let firstSensitive = -1;
  for (let pfn = 0; pfn < n; ) {
    const f = flags[pfn] as number;
    const span = (f & PageFlag.Buddy) !== 0 || (f & PageFlag.Allocated) !== 0 ? 1 << (order[pfn] as number) : 1;
    const end = Math.min(n, pfn + span);
    for (let p = pfn; p < end; p++) {
      const pf = (flags[p] as number) | f;
      if ((f & FREE) !== 0) continue;
      if ((pf & PageFlag.Sensitive & tags) !== 0) {
        sensitive++;
        if (firstSensitive < 0) firstSensitive = p;
      }
      what[p] = (pf & tags) !== 0 ? 2 : 1;
    }
    pfn = end;
  }
  if (policy === SecretsPolicy.Refuse && sensitive > 0) throw new HibernationRefusedError(firstSensitive, sensitive);
  const bitmapBytes = Math.ceil(n / 8);
  let saved = 0;
  let secret = 0;
  for (let pfn = 0; pfn < n; pfn++) {
    if (what[pfn] === 2) secret++;
    if (what[pfn] === 1 || (what[pfn] === 2 && policy === SecretsPolicy.Zero)) saved++;
  }
  const out = new Uint8Array(HIBERNATE_HEADER_BYTES + bitmapBytes + saved * PAGE_SIZE);
  let at = HIBERNATE_HEADER_BYTES + bitmapBytes;
  for (let pfn = 0; pfn < n; pfn++) {
    const w = what[pfn] as number;
    if (w === 0 || (w === 2 && policy !== SecretsPolicy.Zero)) continue;
    out[HIBERNATE_HEADER_BYTES + (pfn >>> 3)]! |= 1 << (pfn & 7);
    if (w === 1) out.set(ram.subarray(pfn * PAGE_SIZE, (pfn + 1) * PAGE_SIZE), at);
    at += PAGE_SIZE;
  }
  const view = new DataView(out.buffer);
  view.setUint32(8, HIBERNATE_VERSION, true);
  view.setUint32(12, PAGE_SIZE, true);
  view.setUint32(16, n, true);
  view.setUint32(20, policy, true);
  view.setUint32(24, kernel.ram.shared ? 1 : 0, true);
  view.setUint32(28, saved, true);
  view.setUint32(32, secret, true);
  sealImage(out, HIBERNATE_FORMAT);
  return out;
}

/** Checks an image whole and returns its header (HibernationImageError if anything is wrong). */
export function readHibernateHeader(bytes: Uint8Array): HibernateHeader {
  const u32 = openImageHeader(bytes, HIBERNATE_FORMAT);
  if (u32(8) !== HIBERNATE_VERSION) throw new HibernationImageError(8, `version ${u32(8)}: expected ${HIBERNATE_VERSION}`);
  if (u32(12) !== PAGE_SIZE) throw new HibernationImageError(12, `page size ${u32(12)}: expected ${PAGE_SIZE}`);
  const policy = SECRETS_POLICY_NAMES[u32(20)];
  if (policy === undefined) throw new HibernationImageError(20, `secrets policy ${u32(20)}: expected 0..2`);
  const nrPages = u32(16);
  const savedPages = u32(28);
  const expected = HIBERNATE_HEADER_BYTES + Math.ceil(nrPages / 8) + savedPages * PAGE_SIZE;
  checkImageBody(bytes, HIBERNATE_FORMAT, expected, `${savedPages} saved frames`);
  return { version: u32(8), pageSizeBytes: PAGE_SIZE, nrPages, policy, shared: (u32(24) & 1) !== 0, savedPages, secretPages: u32(32) };
}

/**
 * Resumes the kernel an image holds, in this process: RAM rebuilt (frames left out are zeros), then
 * attached as a resumed copy (every CPU slot of the hibernated machine offlined; `ctors` by cache
 * name) and validated. Throws HibernationImageError before any kernel exists if the image is bad.
 */
export function resume(bytes: Uint8Array, options: Omit<AttachOptions, 'resume'> = {}): Kernel {
  const header = readHibernateHeader(bytes);
  const n = header.nrPages;
  const sizeBytes = n * PAGE_SIZE;
  const buffer = header.shared ? new SharedArrayBuffer(sizeBytes) : new ArrayBuffer(sizeBytes);
  const ram = new Uint8Array(buffer);
  const bitmapAt = HIBERNATE_HEADER_BYTES;
  let at = bitmapAt + Math.ceil(n / 8);
  let count = 0;
  for (let pfn = 0; pfn < n; pfn++) {
    if (((bytes[bitmapAt + (pfn >>> 3)] as number) & (1 << (pfn & 7))) === 0) continue;
    ram.set(bytes.subarray(at, at + PAGE_SIZE), pfn * PAGE_SIZE);
    at += PAGE_SIZE;
    count++;
  }
  if (count !== header.savedPages) throw new HibernationImageError(bitmapAt, `the bitmap names ${count} frames: expected ${header.savedPages}`);
  let kernel: Kernel;
  try {
    kernel = Kernel.attach(buffer, { ...options, resume: true });
    kernel.validate();
  } catch (error) {
    throw new HibernationImageError(0, `the image's kernel does not resume: ${(error as Error).message}`);
  }
  return kernel;
}
