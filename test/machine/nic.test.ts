import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemorySystem } from '../../src/machine/cache.ts';
import { DmaEngine } from '../../src/machine/dma-engine.ts';
import { Nic, RX_STATUS_DD, RX_STATUS_EOP, TX_CMD_EOP, TX_CMD_RS, TX_STATUS_DD, encodeDescriptor } from '../../src/machine/nic.ts';
import { Ram } from '../../src/machine/ram.ts';

function rig(): { ram: Ram; nic: Nic } {
  const ram = Ram.create({ sizeBytes: '4MiB' });
  const memory = new MemorySystem(ram);
  return { ram, nic: new Nic(new DmaEngine({ ram, memory, coherent: true, name: 'eth0' }), 2048) };
}

test('nic: receives by DMA into posted buffers, writes back length and DD|EOP, drops when no buffer is posted', () => {
  const { ram, nic } = rig();
  const ring = 0x1000;
  nic.setRing('rx', ring, 8);
  for (let i = 0; i < 8; i++) encodeDescriptor(ram.u8(ring + i * 16, 16), 0x10000 + i * 2048, 0);
  nic.writeTail('rx', 3); // three buffers posted: descriptors 0, 1, 2
  for (let p = 0; p < 4; p++) nic.receive(new Uint8Array(100 + p).fill(p + 1));
  const s = nic.stats();
  assert.deepEqual([s.rxPackets, s.rxMissed], [3, 1]);
  const d1 = new DataView(ram.buffer, ring + 16, 16);
  assert.equal(d1.getUint16(8, true), 101);
  assert.equal(d1.getUint8(12), RX_STATUS_DD | RX_STATUS_EOP);
  assert.ok(ram.u8(0x10000 + 2048, 101).every((b) => b === 2));
  assert.equal(ram.u8(0x10000 + 3 * 2048, 1)[0], 0, 'the fourth packet went nowhere');
  assert.equal(nic.rx.head, 3);
  assert.equal(nic.receive(new Uint8Array(3000)), false);
  assert.throws(() => nic.writeTail('rx', 8), /expected an index/);
});

test('nic: transmits the descriptors between head and tail, reading each buffer by DMA, and sets DD', () => {
  const { ram, nic } = rig();
  const ring = 0x2000;
  nic.setRing('tx', ring, 8);
  for (let i = 0; i < 2; i++) {
    ram.u8(0x20000 + i * 4096, 60).fill(0xa0 + i);
    encodeDescriptor(ram.u8(ring + i * 16, 16), 0x20000 + i * 4096, 60, TX_CMD_EOP | TX_CMD_RS);
  }
  nic.writeTail('tx', 2);
  const wire: Uint8Array[] = [];
  assert.equal(nic.transmit((p) => wire.push(p)), 2);
  assert.deepEqual(wire.map((p) => [p.length, p[0]]), [[60, 0xa0], [60, 0xa1]]);
  assert.equal(ram.u8(ring + 16 + 12, 1)[0], TX_STATUS_DD);
  assert.equal(nic.transmit(() => assert.fail('nothing left')), 0);
});
