import { resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import type { DoctorOptions } from '../lib/doctor/context.js';
import { EXIT_CODES } from '../lib/doctor/report.js';
import { DEFAULT_SSHD, DEFAULT_SSHD_CONFIG } from '../lib/doctor/sshd.js';
import { DEFAULT_SYSTEMD_DIR } from '../lib/doctor/systemd.js';
import { PolicyError } from '../lib/policy/errors.js';
import { policyFileFrom } from '../lib/policy/load.js';

export interface DoctorArgs {
  policy?: string;
  'authorized-keys'?: string;
  'sshd-config': string;
  sshd: string;
  user: string;
  'state-dir'?: string;
  'systemd-dir': string;
  'idle-days': number;
  'max-key-age': number;
  json?: boolean;
}

export const doctorCommand: CommandModule<object, DoctorArgs> = {
  command: 'doctor',
  describe:
    "Report this server's security posture against BorgBackup's hardening guidance (exit 0 all implemented, 1 partial, 2 missing, 3 could not run)",
  builder: (yargs) =>
    yargs
      .option('authorized-keys', {
        type: 'string',
        describe:
          "authorized_keys file to check (default: $BORG_GATE_AUTHORIZED_KEYS, else sshd's AuthorizedKeysFile for --user)",
      })
      .option('sshd-config', {
        type: 'string',
        default: DEFAULT_SSHD_CONFIG,
        describe: 'sshd configuration file passed to sshd -T',
      })
      .option('sshd', { type: 'string', default: DEFAULT_SSHD, describe: 'sshd binary' })
      .option('user', {
        type: 'string',
        default: 'borg',
        describe:
          'Backup user: sshd settings are evaluated for it and it must own passphrase files',
      })
      .option('state-dir', {
        type: 'string',
        describe:
          "Directory of doctor's and the check runner's state files (default: the policy's state_dir)",
      })
      .option('systemd-dir', {
        type: 'string',
        default: DEFAULT_SYSTEMD_DIR,
        describe: 'Directory of systemd units to scan for BORG_PASSPHRASE',
      })
      .option('idle-days', {
        type: 'number',
        default: 30,
        describe: 'Days without a write after which a client with write access is reported',
      })
      .option('max-key-age', {
        type: 'number',
        default: 365,
        describe: 'Age in days after which SSH keys and repokeys are reported for rotation',
      })
      .option('json', { type: 'boolean', describe: 'Print the report as JSON for monitoring' })
      .check((args) => {
        for (const name of ['idle-days', 'max-key-age'] as const) {
          const value = args[name];
          if (!Number.isInteger(value) || value < 1) {
            throw new Error(`--${name} must be a whole number of days of at least 1, got ${value}`);
          }
        }
        return true;
      }),
  handler: async (args) => {
    process.exitCode = await runDoctorCommand(args, new Date());
  },
};

/** Runs doctor, prints the report and returns the exit code. */
export async function runDoctorCommand(args: DoctorArgs, now: Date): Promise<number> {
  const { runDoctor } = await import('../lib/doctor/run.js');
  const options: DoctorOptions = {
    policyFile: resolve(policyFileFrom(args.policy)),
    authorizedKeysFile: args['authorized-keys'],
    sshd: args.sshd,
    sshdConfig: args['sshd-config'],
    user: args.user,
    stateDir: args['state-dir'],
    systemdDir: args['systemd-dir'],
    idleDays: args['idle-days'],
    maxKeyAgeDays: args['max-key-age'],
    now,
  };
  try {
    const { report, warnings } = await runDoctor(options);
    for (const warning of warnings) {
      process.stderr.write(`borg-gate doctor: ${warning}\n`);
    }
    if (args.json) {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    } else {
      const { formatReportTable } = await import('../lib/doctor/format.js');
      process.stdout.write(formatReportTable(report, Math.min(160, process.stdout.columns ?? 120)));
    }
    return report.exit_code;
  } catch (error) {
    if (!(error instanceof PolicyError)) {
      throw error;
    }
    process.stderr.write(`borg-gate doctor: invalid policy: ${error.message}\n`);
    return EXIT_CODES.cannotRun;
  }
}
