import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import ssh2, { type AuthContext } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthState, authenticate } from '../../../src/lib/listen/auth.js';
import { PolicyKeyIndex } from '../../../src/lib/listen/key-index.js';

interface Decision {
  accepted: boolean;
  rejected: boolean;
}

/** Builds an authentication request as ssh2 passes it, signed for real with the key in `file`. */
function request(
  file: string | undefined,
  options: { method?: string; signed?: boolean; tamper?: boolean; algo?: string } = {},
): { ctx: AuthContext; decision: Decision } {
  const decision: Decision = { accepted: false, rejected: false };
  const base = {
    username: 'borg',
    method: options.method ?? 'publickey',
    accept: () => {
      decision.accepted = true;
    },
    reject: () => {
      decision.rejected = true;
    },
  };
  if (file === undefined || base.method !== 'publickey') {
    return { ctx: base as unknown as AuthContext, decision };
  }
  const privateKey = ssh2.utils.parseKey(readFileSync(file)) as ssh2.ParsedKey;
  const blob = Buffer.from('session id and request bytes');
  const signature = privateKey.sign(blob);
  if (options.tamper) {
    signature[0] = (signature[0] ?? 0) ^ 0xff;
  }
  const ctx = {
    ...base,
    key: { algo: options.algo ?? privateKey.type, data: privateKey.getPublicSSH() },
    ...(options.signed === false ? {} : { blob, signature }),
  };
  return { ctx: ctx as unknown as AuthContext, decision };
}

describe('authenticate', () => {
  let dir: string;
  let keys: PolicyKeyIndex;
  let known: string;
  let unknown: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'borg-gate-auth-'));
    known = join(dir, 'known');
    unknown = join(dir, 'unknown');
    for (const file of [known, unknown]) {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
    }
    const policyFile = join(dir, 'policy.yaml');
    const line = readFileSync(`${known}.pub`, 'utf8').trim();
    writeFileSync(policyFile, `version: 1\nclients:\n  - id: app\n    keys: ["${line}"]\n`, {
      mode: 0o644,
    });
    keys = new PolicyKeyIndex(policyFile, pino({ level: 'silent' }));
    await keys.load();
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('accepts a signed policy key', async () => {
    const state: AuthState = { failures: 0 };
    const { ctx, decision } = request(known);
    expect(await authenticate(ctx, state, keys)).toBe(true);
    expect(decision.accepted).toBe(true);
    expect(state.clientId).toBe('app');
    expect(state.authenticatedKey).toBe(
      readFileSync(`${known}.pub`, 'utf8').split(' ').slice(0, 2).join(' '),
    );
    expect(state.failures).toBe(0);
  });

  it('answers a key query without logging in', async () => {
    const state: AuthState = { failures: 0 };
    const { ctx, decision } = request(known, { signed: false });
    expect(await authenticate(ctx, state, keys)).toBe(false);
    expect(decision.accepted).toBe(true);
    expect(state.clientId).toBeUndefined();
  });

  it.each([
    ['unknown key', () => request(unknown)],
    ['tampered signature', () => request(known, { tamper: true })],
    ['password method', () => request(undefined, { method: 'password' })],
  ])('%s is rejected', async (_name, make) => {
    const state: AuthState = { failures: 0 };
    const { ctx, decision } = make();
    expect(await authenticate(ctx, state, keys)).toBe(false);
    expect(decision.rejected).toBe(true);
    expect(decision.accepted).toBe(false);
    expect(state.clientId).toBeUndefined();
    expect(state.failures).toBe(1);
  });

  it('none method is not a failure', async () => {
    const state: AuthState = { failures: 0 };
    const { ctx, decision } = request(undefined, { method: 'none' });
    await authenticate(ctx, state, keys);
    expect(decision.rejected).toBe(true);
    expect(state.failures).toBe(0);
  });
});

describe('PolicyKeyIndex', () => {
  it('keeps the last valid keys', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'borg-gate-index-'));
    try {
      const file = join(dir, 'policy.yaml');
      const key =
        'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGBm4PbXHP2cH2X5nYF4g5w0ZBmpqW8rLwgt0ON8IEv5';
      writeFileSync(file, `version: 1\nclients:\n  - id: app\n    keys: ["${key} c"]\n`, {
        mode: 0o644,
      });
      const index = new PolicyKeyIndex(file, pino({ level: 'silent' }));
      await index.load();
      expect(await index.lookup(key)).toBe('app');

      writeFileSync(file, `version: 1\nclients:\n  - id: web\n    keys: ["${key}"]\n`, {
        mode: 0o644,
      });
      expect(await index.lookup(key)).toBe('web');

      writeFileSync(file, 'version: 1\nclients: nonsense and more\n', { mode: 0o644 });
      expect(await index.lookup(key)).toBe('web');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
