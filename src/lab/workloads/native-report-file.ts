/** Reads a native calibration report from a file (Node only: imported on demand, so the scenario registry stays browser-safe). */
import { readFileSync } from 'node:fs';
import { ArgumentError, fileErrorReason } from '../../util/errors.ts';
import { NATIVE_REPORT_RECIPE, parseNativeReport, type NativeReport } from '../native-calibration.ts';

/** The report in the file at `path`; an ArgumentError naming the path and what it should hold when it cannot be read or is not one. */
export function readNativeReport(path: string): NativeReport {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ArgumentError(`${path}: cannot read (${fileErrorReason(error)}); expected the output of ${NATIVE_REPORT_RECIPE}`);
  }
  return parseNativeReport(text, path);
}
