/**
 * A network card: receive and transmit descriptor rings in RAM, reached only by DMA (its DmaEngine),
 * and four registers per ring the driver writes by MMIO (host-side here, as registers are).
 *
 * Descriptors are the 16-byte "legacy" ones of Intel's 8254x (PCI/PCI-X Family of Gigabit Ethernet
 * Controllers Software Developer's Manual, §3.2.3 and §3.3.3), little-endian:
 *   receive   [0, 8) buffer address   [8, 10) length written   [10, 12) checksum   [12] status
 *             (DD 0x01 descriptor done, EOP 0x02 end of packet)   [13] errors   [14, 16) special
 *   transmit  [0, 8) buffer address   [8, 10) length   [10] CSO   [11] command (EOP 0x01, RS 0x08)
 *             [12] status (DD 0x01)   [13] CSS   [14, 16) special
 * Ring ownership (as the 8254x's head and tail): the device owns descriptors [head, tail) and
 * advances head as it completes them; the driver fills descriptors and advances tail. head = tail is
 * an empty ring: a packet arriving then is dropped and counted (the RX "missed" counter).
 */
import { ArgumentError } from '../util/errors.ts';
import type { DmaEngine } from './dma-engine.ts';

export const NIC_DESC_BYTES = 16;
export const RX_STATUS_DD = 0x01;
export const RX_STATUS_EOP = 0x02;
export const TX_CMD_EOP = 0x01;
export const TX_CMD_RS = 0x08;
export const TX_STATUS_DD = 0x01;
/** Descriptor counts must be multiples of 8 (RDLEN/TDLEN are multiples of 128 bytes on the 8254x). */
export const NIC_RING_MULTIPLE = 8;

export interface NicRing {
  baseBus: number;
  count: number;
  head: number;
  tail: number;
}

export interface NicStats {
  rxPackets: number;
  rxBytes: number;
  /** Packets dropped for want of a posted buffer. */
  rxMissed: number;
  /** Packets longer than the receive buffer size, dropped. */
  rxTooLong: number;
  txPackets: number;
  txBytes: number;
}

export class Nic {
  readonly rx: NicRing = { baseBus: 0, count: 0, head: 0, tail: 0 };
  readonly tx: NicRing = { baseBus: 0, count: 0, head: 0, tail: 0 };
  private readonly desc = new Uint8Array(NIC_DESC_BYTES);
  private readonly view = new DataView(this.desc.buffer);
  private readonly counters: NicStats = { rxPackets: 0, rxBytes: 0, rxMissed: 0, rxTooLong: 0, txPackets: 0, txBytes: 0 };

  constructor(
    readonly engine: DmaEngine,
    /** Bytes of each receive buffer (the 8254x's RCTL.BSIZE): 256 to 16384. */
    readonly rxBufferBytes = 2048,
  ) {
    if (!Number.isInteger(rxBufferBytes) || rxBufferBytes < 256 || rxBufferBytes > 16384) throw new ArgumentError(`NIC receive buffer of ${rxBufferBytes} bytes: expected 256..16384`);
  }

  /** Programs a ring's base and length (RDBA/RDLEN, TDBA/TDLEN); head and tail reset to 0. */
  setRing(which: 'rx' | 'tx', baseBus: number, count: number): void {
    if (!Number.isInteger(count) || count < NIC_RING_MULTIPLE || count % NIC_RING_MULTIPLE !== 0) {
      throw new ArgumentError(`NIC ${which} ring of ${count} descriptors: expected a positive multiple of ${NIC_RING_MULTIPLE}`);
    }
    if (baseBus % 16 !== 0) throw new ArgumentError(`NIC ${which} ring at 0x${baseBus.toString(16)}: expected 16-byte alignment`);
    Object.assign(which === 'rx' ? this.rx : this.tx, { baseBus, count, head: 0, tail: 0 });
  }

  /** The driver's MMIO write of a tail register (RDT/TDT). */
  writeTail(which: 'rx' | 'tx', tail: number): void {
    const ring = which === 'rx' ? this.rx : this.tx;
    if (!Number.isInteger(tail) || tail < 0 || tail >= ring.count) throw new ArgumentError(`NIC ${which} tail ${tail}: expected an index in [0, ${ring.count})`);
    ring.tail = tail;
  }

  /** A packet arrives from the wire: DMA into the next posted buffer, then its descriptor. Returns whether it was taken. */
  receive(packet: Uint8Array): boolean {
    const ring = this.rx;
    if (ring.count === 0 || ring.head === ring.tail) {
      this.counters.rxMissed++;
      return false;
    }
    if (packet.length > this.rxBufferBytes) {
      this.counters.rxTooLong++;
      return false;
    }
    const at = ring.baseBus + ring.head * NIC_DESC_BYTES;
    this.engine.read(at, this.desc);
    const buffer = this.view.getUint32(0, true) + this.view.getUint32(4, true) * 2 ** 32;
    this.engine.write(buffer, packet);
    this.view.setUint16(8, packet.length, true);
    this.view.setUint16(10, 0, true);
    this.desc[12] = RX_STATUS_DD | RX_STATUS_EOP;
    this.desc[13] = 0;
    this.engine.write(at, this.desc);
    ring.head = (ring.head + 1) % ring.count;
    this.counters.rxPackets++;
    this.counters.rxBytes += packet.length;
    return true;
  }

  /** Sends every descriptor in [head, tail): reads each buffer by DMA, hands it to `wire`, sets DD. */
  transmit(wire: (packet: Uint8Array) => void): number {
    const ring = this.tx;
    let sent = 0;
    for (let n = 0; ring.count > 0 && ring.head !== ring.tail && n < ring.count; n++) {
      const at = ring.baseBus + ring.head * NIC_DESC_BYTES;
      this.engine.read(at, this.desc);
      const buffer = this.view.getUint32(0, true) + this.view.getUint32(4, true) * 2 ** 32;
      const packet = new Uint8Array(this.view.getUint16(8, true));
      this.engine.read(buffer, packet);
      wire(packet);
      this.desc[12] = (this.desc[12] as number) | TX_STATUS_DD;
      this.engine.write(at, this.desc);
      ring.head = (ring.head + 1) % ring.count;
      this.counters.txPackets++;
      this.counters.txBytes += packet.length;
      sent++;
    }
    return sent;
  }

  stats(): NicStats {
    return { ...this.counters };
  }
}

/** Encodes a descriptor's buffer address and length (what a driver writes), into `out` (16 bytes). */
export function encodeDescriptor(out: Uint8Array, bufferBus: number, lengthBytes: number, command = 0): void {
  const view = new DataView(out.buffer, out.byteOffset, NIC_DESC_BYTES);
  out.fill(0, 0, NIC_DESC_BYTES);
  view.setUint32(0, bufferBus % 2 ** 32, true);
  view.setUint32(4, Math.floor(bufferBus / 2 ** 32), true);
  view.setUint16(8, lengthBytes, true);
  out[11] = command;
}
