import { type DoctorContext, type DoctorOptions, gatherContext } from './context.js';
import { writeDoctorState } from './doctor-state.js';
import {
  EXIT_CODES,
  REPORT_SCHEMA_VERSION,
  type Report,
  type RowResult,
  reportSchema,
  toProtection,
  worstStatus,
} from './report.js';
import { checkAppendOnly } from './rows/append-only.js';
import { checkKeyRotation } from './rows/key-rotation.js';
import { checkPassphrases } from './rows/passphrase.js';
import { checkReadOnly } from './rows/read-only.js';
import { checkRestriction } from './rows/restriction.js';
import { checkSeparateKeys } from './rows/separate-keys.js';
import { checkSshHardening } from './rows/ssh-hardening.js';
import { checkVerification } from './rows/verification.js';

/** The rows in report order; adding a protection is one function here. */
const ROWS: Array<(context: DoctorContext) => RowResult> = [
  checkAppendOnly,
  checkReadOnly,
  checkRestriction,
  checkSeparateKeys,
  checkPassphrases,
  checkKeyRotation,
  checkVerification,
  checkSshHardening,
];

export interface DoctorRun {
  report: Report;
  /** Problems with doctor's own state file; the report is still complete. */
  warnings: string[];
}

/** Gathers the inputs, runs every row, saves key ages and returns the validated report. Throws PolicyError. */
export async function runDoctor(options: DoctorOptions): Promise<DoctorRun> {
  const started = performance.now();
  const context = await gatherContext(options);
  const protections = ROWS.map((row) => toProtection(row(context)));
  const warnings: string[] = [];
  // A damaged state file is left in place for the admin to inspect.
  if (context.doctorStateError === undefined) {
    try {
      await writeDoctorState(context.doctorStateFile, context.doctorState);
    } catch (error) {
      warnings.push(`${(error as Error).message}; key ages are not saved`);
    }
  }
  const status = worstStatus(protections.map((protection) => protection.status));
  const report = reportSchema.parse({
    schema_version: REPORT_SCHEMA_VERSION,
    generated_at: options.now.toISOString(),
    policy_file: options.policyFile,
    status,
    exit_code: EXIT_CODES[status],
    protections,
    duration_ms: Math.round(performance.now() - started),
  });
  return { report, warnings };
}
