/** Reads a native calibration report from a file (Node only: imported on demand, so the scenario registry stays browser-safe). */
import { readFileSync } from 'node:fs';
import { parseNativeReport, type NativeReport } from '../native-calibration.ts';

export function readNativeReport(path: string): NativeReport {
  return parseNativeReport(readFileSync(path, 'utf8'), path);
}
