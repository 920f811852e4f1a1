import { randomBytes } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDoctor } from '../../../src/lib/doctor/run.js';
import { createFixture, type DoctorFixture, gateLine, writeAuditRecords } from './fixtures.js';

const CLIENTS = 1000;
const DAY_MS = 86_400_000;

/**
 * 1,000 clients with one repository each. borg init creates one real repository, which is
 * copied. Each copy gets a fresh id and key blob, so the copies do not count as shared keys.
 */
describe('doctor at scale', () => {
  let fixture: DoctorFixture;

  beforeAll(() => {
    fixture = createFixture('scale');
    const template = fixture.init('template', 'repokey-blake2');
    const templateConfig = readFileSync(join(template, 'config'), 'utf8');
    const clients = [];
    const lines = [];
    const records = [];
    const now = Date.now();
    for (let index = 0; index < CLIENTS; index++) {
      const id = `client${index}`;
      const repository = join(fixture.dir, 'repos', id);
      cpSync(template, repository, { recursive: true });
      const config = templateConfig
        .replace(/^id = .*$/m, `id = ${randomBytes(32).toString('hex')}`)
        .replace(/^key = [\s\S]*$/m, `key = ${randomBytes(300).toString('base64')}\n`);
      writeFileSync(join(repository, 'config'), config);
      const key = `ssh-ed25519 ${Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), randomBytes(32)]).toString('base64')} ${id}`;
      clients.push({ id, keys: [key], repositories: [repository] });
      lines.push(gateLine(id, key, fixture.policyFile));
      for (let day = 0; day < 20; day++) {
        records.push({
          time: new Date(now - day * DAY_MS).toISOString(),
          event: 'session_end',
          client_id: id,
          rpc: { commit: true },
        });
      }
    }
    fixture.writePolicy({ clients });
    writeFileSync(fixture.authorizedKeys, `${lines.join('\n')}\n`, { mode: 0o600 });
    records.sort((a, b) => a.time.localeCompare(b.time));
    writeAuditRecords(fixture.auditLog, records);
  }, 300_000);

  afterAll(() => fixture.remove());

  it('scales to 1,000 clients and repositories', async () => {
    // The first run creates the doctor state file; the second is the steady state.
    const first = await runDoctor(fixture.options());
    const started = performance.now();
    const { report } = await runDoctor(fixture.options());
    const elapsed = performance.now() - started;
    console.log(
      `doctor: first run ${first.report.duration_ms} ms, second run ${Math.round(elapsed)} ms, ${CLIENTS} clients, ${CLIENTS} repositories, ${CLIENTS * 20} audit records`,
    );
    expect(report.protections.find((row) => row.id === 'restriction')?.status).toBe('implemented');
    expect(report.protections.find((row) => row.id === 'separate-keys')?.status).toBe(
      'implemented',
    );
    // The 2 s target is measured and reported in docs/doctor.md; this bound only catches a
    // quadratic slip, because shared CI cores make a tight wall-clock bound flaky.
    expect(elapsed).toBeLessThan(10_000);
  });
});
