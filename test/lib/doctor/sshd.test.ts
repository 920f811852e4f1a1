import { userInfo } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  parseSshdSettings,
  readSshdSettings,
  SshdConfigError,
} from '../../../src/lib/doctor/sshd.js';
import { createFixture, type DoctorFixture } from './fixtures.js';

let fixture: DoctorFixture;

beforeAll(() => {
  fixture = createFixture('sshd');
});

afterAll(() => fixture.remove());

describe('parseSshdSettings', () => {
  it('lowercases keywords and joins repeats', () => {
    const settings = parseSshdSettings(
      'PermitTTY no\nlistenaddress 0.0.0.0:22\nlistenaddress [::]:22\n',
    );
    expect(settings.get('permittty')).toBe('no');
    expect(settings.get('listenaddress')).toBe('0.0.0.0:22 [::]:22');
  });
});

describe('readSshdSettings', () => {
  it('applies Match User blocks', async () => {
    const user = userInfo().username;
    fixture.writeSshdConfig(['PermitTTY yes', `Match User ${user}`, '    PermitTTY no']);
    const settings = await readSshdSettings('/usr/sbin/sshd', fixture.sshdConfig, user);
    expect(settings.get('permittty')).toBe('no');
    const other = await readSshdSettings('/usr/sbin/sshd', fixture.sshdConfig, 'someone-else');
    expect(other.get('permittty')).toBe('yes');
  });

  it('reports an invalid config', async () => {
    fixture.writeSshdConfig(['NoSuchOption yes']);
    await expect(readSshdSettings('/usr/sbin/sshd', fixture.sshdConfig, 'root')).rejects.toThrow(
      /Bad configuration option/,
    );
  });

  it.each(['a,addr=10.0.0.1', '-T', 'x y'])('rejects user %s', async (user) => {
    await expect(readSshdSettings('/usr/sbin/sshd', fixture.sshdConfig, user)).rejects.toThrow(
      SshdConfigError,
    );
  });
});
