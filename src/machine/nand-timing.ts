/**
 * What a NAND operation costs: array latencies, the bus transfer rate and the active power of a
 * chip, per cell type. The device (nand.ts) counts operations and bytes moved; its busy time and
 * energy are those counts times these figures, so the numbers come from what the device did.
 *
 * Sources:
 *   slc  Samsung K9XXG08UXM SLC, the parameter table of Agrawal et al., "Design Tradeoffs for SSD
 *        Performance", USENIX ATC 2008 (Table 2): page read to register 25 µs, program from
 *        register 200 µs, block erase 1.5 ms, serial access to the register 100 µs per 4 KiB page
 *        (24.4 ns per byte, a 40 MB/s asynchronous bus), 100 K program/erase cycles.
 *   mlc  MQSim's default flash parameters (CMU-SAFARI/MQSim, Flash_Parameter_Set.cpp and
 *        ssdconfig.xml): read 75 µs, program 750 µs, erase 3.8 ms, 10 K cycles
 *        (Block_PE_Cycles_Limit). MQSim models the bus separately; the SLC row's 25 ns per byte is
 *        assumed here.
 *   power  derived, E = V·I·t: Numonyx NAND01G-B2B datasheet, ICC for read, program and erase all
 *        10 mA typical, at VCC 3.3 V: 33 mW while the chip is busy. The same draw is assumed for
 *        the MLC row (an estimate of the order of magnitude, not a measured figure).
 */

export interface NandTiming {
  readonly name: string;
  /** Moving one page from the cells to the page register (tR). */
  readonly readNs: number;
  /** Moving the page register into erased cells (tPROG). */
  readonly programNs: number;
  /** Erasing one block (tBERS). */
  readonly eraseNs: number;
  /** Moving one byte between the controller and the page register. */
  readonly transferNsPerByte: number;
  /** Power drawn while the chip is busy. */
  readonly activePowerMw: number;
}

const BUS_NS_PER_BYTE = 100_000 / 4096;
const ACTIVE_POWER_MW = 3.3 * 10;

export const NAND_TIMINGS = {
  slc: {
    name: 'SLC (Samsung K9XXG08UXM, Agrawal et al. 2008)',
    readNs: 25_000,
    programNs: 200_000,
    eraseNs: 1_500_000,
    transferNsPerByte: BUS_NS_PER_BYTE,
    activePowerMw: ACTIVE_POWER_MW,
  },
  mlc: {
    name: 'MLC (MQSim default parameters)',
    readNs: 75_000,
    programNs: 750_000,
    eraseNs: 3_800_000,
    transferNsPerByte: BUS_NS_PER_BYTE,
    activePowerMw: ACTIVE_POWER_MW,
  },
} as const satisfies Record<string, NandTiming>;

export type NandTimingName = keyof typeof NAND_TIMINGS;
export const NAND_TIMING_NAMES = Object.keys(NAND_TIMINGS) as NandTimingName[];
