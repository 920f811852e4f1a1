import { fingerprintOf } from '../../authorized-keys/public-key.js';
import type { DoctorContext } from '../context.js';
import { borgKeySince, sshKeyFirstSeen } from '../doctor-state.js';
import { type Finding, finding, listNames, type RowResult } from '../report.js';

const DAY_MS = 86_400_000;

/**
 * Row 6: SSH keys and borg keys are replaced after `maxKeyAgeDays`. SSH key age comes from the
 * policy's `added` field, else from the first time doctor saw the key. A repository's borg key
 * age starts when doctor first saw its current repokey blob. Updates `context.doctorState`.
 */
export function checkKeyRotation(context: DoctorContext): RowResult {
  const maxAgeMs = context.options.maxKeyAgeDays * DAY_MS;
  const findings = [...findOldSshKeys(context, maxAgeMs), ...findOldBorgKeys(context, maxAgeMs)];
  if (context.doctorStateError !== undefined) {
    findings.push(
      finding(
        'partial',
        {},
        `key ages start from now because ${context.doctorStateError}.`,
        `Move ${context.doctorStateFile} aside; doctor writes a new one.`,
      ),
    );
  }
  const keyfile = [...context.repositories.values()].filter(
    (info) => info.readable && info.encryption?.startsWith('keyfile'),
  ).length;
  const keyfileNote =
    keyfile > 0
      ? ` ${keyfile} keyfile repositories keep their key on the client, so their age is not tracked.`
      : '';
  return {
    id: 'key-rotation',
    protection: 'Key rotation',
    summary: `all SSH keys and repokeys are younger than ${context.options.maxKeyAgeDays} days.${keyfileNote}`,
    findings,
  };
}

function findOldSshKeys(context: DoctorContext, maxAgeMs: number): Finding[] {
  const old: string[] = [];
  let oldest = 0;
  for (const { client } of context.clients) {
    for (const entry of client.keys) {
      if (
        typeof entry !== 'string' &&
        entry.expires !== undefined &&
        entry.expires <= context.now
      ) {
        continue;
      }
      const text = typeof entry === 'string' ? entry : entry.key;
      const blob = Buffer.from(text.trim().split(/\s+/)[1] ?? '', 'base64');
      const firstSeen = sshKeyFirstSeen(context.doctorState, fingerprintOf(blob), context.now);
      const added = typeof entry === 'string' ? undefined : entry.added;
      const age = context.now.getTime() - (added ?? firstSeen).getTime();
      if (age > maxAgeMs) {
        old.push(client.id);
        oldest = Math.max(oldest, age);
      }
    }
  }
  if (old.length === 0) {
    return [];
  }
  const clients = [...new Set(old)];
  return [
    finding(
      'partial',
      { clients },
      `SSH keys older than ${context.options.maxKeyAgeDays} days (oldest ${Math.floor(oldest / DAY_MS)} days): ${listNames(clients)}.`,
      'Generate a new key on each client and run `borg-gate keys rotate --client ID --key NEW.pub`.',
    ),
  ];
}

function findOldBorgKeys(context: DoctorContext, maxAgeMs: number): Finding[] {
  const old: string[] = [];
  for (const info of context.repositories.values()) {
    if (!info.readable || info.config.key === undefined) {
      continue;
    }
    const since = borgKeySince(context.doctorState, info.path, info.config.key, context.now);
    if (context.now.getTime() - since.getTime() > maxAgeMs) {
      old.push(info.path);
    }
  }
  if (old.length === 0) {
    return [];
  }
  return [
    finding(
      'partial',
      { repositories: old },
      `repokeys unchanged for more than ${context.options.maxKeyAgeDays} days: ${listNames(old)}.`,
      'Change the passphrase with `borg key change-passphrase REPO`; a new encryption key needs a new repository (`borg init`).',
    ),
  ];
}
