import { constants, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { type CheckState, readCheckState } from '../check/state.js';
import { PolicyError } from '../policy/errors.js';
import { parsePolicy } from '../policy/load.js';
import type { Policy } from '../policy/schema.js';
import { readWriteActivity, type WriteActivity } from './activity.js';
import { type ActiveClient, activeClients } from './clients.js';
import {
  DOCTOR_STATE_FILE,
  type DoctorState,
  emptyDoctorState,
  readDoctorState,
} from './doctor-state.js';
import { type RepositoryInfo, readRepositories } from './repositories.js';
import { readSshdSettings, type SshdSettings } from './sshd.js';
import { findPassphraseExposures, type PassphraseExposure } from './systemd.js';
import { locateAuthorizedKeys, lookupUid } from './users.js';

export interface DoctorOptions {
  policyFile: string;
  /** authorized_keys file; when absent, taken from sshd's AuthorizedKeysFile for `user`. */
  authorizedKeysFile: string | undefined;
  sshd: string;
  sshdConfig: string;
  /** The backup user: sshd settings are evaluated for it, and it must own passphrase files. */
  user: string;
  /** Overrides the policy's state_dir for doctor's own state and the default check state file. */
  stateDir: string | undefined;
  systemdDir: string;
  idleDays: number;
  maxKeyAgeDays: number;
  now: Date;
}

/** A value doctor could read, or why it could not. */
export type Loaded<T> = { ok: true; value: T } | { ok: false; error: string };

/** Everything the rows inspect, read once up front so no row spawns or reads per repository. */
export interface DoctorContext {
  options: DoctorOptions;
  now: Date;
  policy: Policy;
  policyInfo: Stats;
  clients: ActiveClient[];
  repositories: Map<string, RepositoryInfo>;
  activity: Loaded<WriteActivity>;
  checkStateFile: string;
  checkState: Loaded<CheckState>;
  doctorStateFile: string;
  /** Updated in place by the key rotation row; the runner writes it back unless it was damaged. */
  doctorState: DoctorState;
  doctorStateError: string | undefined;
  sshd: Loaded<SshdSettings>;
  authorizedKeys: Loaded<{ file: string; text: string; info: Stats }> | undefined;
  exposures: PassphraseExposure[];
  userUid: Loaded<number>;
}

/** Reads the policy, repositories, logs, state files and sshd settings. Throws PolicyError. */
export async function gatherContext(options: DoctorOptions): Promise<DoctorContext> {
  // Child processes start first and run while this process parses the policy and reads files.
  const external = Promise.all([
    attempt(() => readSshdSettings(options.sshd, options.sshdConfig, options.user)),
    attempt(() => lookupUid(options.user)),
    findPassphraseExposures(options.systemdDir),
  ]);
  const { policy, info: policyInfo } = await readPolicyFile(options.policyFile).catch(
    async (error: unknown) => {
      await external;
      throw error;
    },
  );

  const now = options.now;
  const stateDir = options.stateDir ?? policy.state_dir;
  const checkStateFile = policy.checks?.state_file ?? join(stateDir, 'check-state.json');
  const doctorStateFile = join(stateDir, DOCTOR_STATE_FILE);
  const clients = activeClients(policy, now);

  const files = Promise.all([
    attempt(() => readWriteActivity(policy.audit_log)),
    attempt(() => readCheckState(checkStateFile)),
    attempt(() => readDoctorState(doctorStateFile)),
  ]);
  const repositories = readRepositories(repositoryPaths(policy));
  const [[sshd, userUid, exposures], [activity, checkState, doctorState]] = await Promise.all([
    external,
    files,
  ]);

  const authorizedKeys = await locateAuthorizedKeys(options, sshd.ok ? sshd.value : undefined);
  return {
    options,
    now,
    policy,
    policyInfo,
    clients,
    repositories,
    activity,
    checkStateFile,
    checkState,
    doctorStateFile,
    doctorState: doctorState.ok ? doctorState.value : emptyDoctorState(),
    doctorStateError: doctorState.ok ? undefined : doctorState.error,
    sshd,
    authorizedKeys,
    exposures,
    userUid,
  };
}

/** Runs a reader and keeps its error message instead of throwing, so one missing input fails one row. */
export async function attempt<T>(read: () => Promise<T>): Promise<Loaded<T>> {
  try {
    return { ok: true, value: await read() };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}

/** Lists every repository the policy names: client repositories and `checks.repositories`. */
function repositoryPaths(policy: Policy): Set<string> {
  const paths = new Set<string>(Object.keys(policy.checks?.repositories ?? {}));
  for (const client of policy.clients) {
    for (const entry of client.repositories) {
      paths.add(typeof entry === 'string' ? entry : entry.path);
    }
  }
  return paths;
}

/**
 * Reads and validates the policy without the loader's ownership and mode checks, because doctor
 * reports an unsafe policy file as a finding instead of stopping.
 */
async function readPolicyFile(file: string): Promise<{ policy: Policy; info: Stats }> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // O_NOFOLLOW: the report must describe the file itself, not a symlink's target.
    handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new PolicyError(file, `cannot open (${code}); pass --policy FILE`, { cause: error });
  }
  try {
    const info = await handle.stat();
    const policy = parsePolicy(file, await handle.readFile('utf8'));
    return { policy, info };
  } finally {
    await handle.close();
  }
}
