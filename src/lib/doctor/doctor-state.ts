import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { writeFileAtomic } from '../authorized-keys/safe-write.js';

/** When doctor first saw each SSH key and each repository's borg key, so key age survives restarts. */
export const doctorStateSchema = z.strictObject({
  version: z.literal(1),
  /** Keyed by SSH key fingerprint (SHA256:...). */
  ssh_keys: z.record(z.string(), z.strictObject({ first_seen: z.iso.datetime() })),
  /** Keyed by repository path; `key_sha256` is the hash of the repokey blob in the repository config. */
  repositories: z.record(
    z.string(),
    z.strictObject({ key_sha256: z.string().regex(/^[0-9a-f]{64}$/), since: z.iso.datetime() }),
  ),
});

export type DoctorState = z.infer<typeof doctorStateSchema>;

export const DOCTOR_STATE_FILE = 'doctor-state.json';

export class DoctorStateError extends Error {
  override readonly name = 'DoctorStateError';
}

export function emptyDoctorState(): DoctorState {
  return { version: 1, ssh_keys: {}, repositories: {} };
}

/** Reads the state file; a missing file is an empty state. Throws DoctorStateError for a damaged one. */
export async function readDoctorState(file: string): Promise<DoctorState> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return emptyDoctorState();
    }
    throw new DoctorStateError(`doctor state ${file}: cannot read: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    return doctorStateSchema.parse(JSON.parse(text));
  } catch (error) {
    throw new DoctorStateError(
      `doctor state ${file}: invalid; move it aside and rerun borg-gate doctor (key ages restart from now)`,
      { cause: error },
    );
  }
}

/** Replaces the state file atomically with mode 0600; a symlink at `file` is rejected, not followed. */
export async function writeDoctorState(file: string, state: DoctorState): Promise<void> {
  try {
    const text = `${JSON.stringify(state, null, 2)}\n`;
    await writeFileAtomic(file, Buffer.from(text), 0o600, undefined);
  } catch (error) {
    throw new DoctorStateError(`doctor state ${file}: cannot write: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** Returns when an SSH key was first seen, recording `now` for a key seen for the first time. */
export function sshKeyFirstSeen(state: DoctorState, fingerprint: string, now: Date): Date {
  const entry = state.ssh_keys[fingerprint] ?? { first_seen: now.toISOString() };
  state.ssh_keys[fingerprint] = entry;
  return new Date(entry.first_seen);
}

/**
 * Returns since when a repository has had this repokey blob; a different blob resets the date to `now`.
 * NOTE: `borg key change-passphrase` also changes the blob, although the encryption key inside stays.
 */
export function borgKeySince(
  state: DoctorState,
  repository: string,
  keyBlob: string,
  now: Date,
): Date {
  const keySha256 = createHash('sha256').update(keyBlob).digest('hex');
  const entry = state.repositories[repository];
  if (entry?.key_sha256 === keySha256) {
    return new Date(entry.since);
  }
  state.repositories[repository] = { key_sha256: keySha256, since: now.toISOString() };
  return now;
}
