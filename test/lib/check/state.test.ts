import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CheckStateError,
  checkStateSchema,
  emptyCheckState,
  readCheckState,
  recordFor,
  writeCheckState,
} from '../../../src/lib/check/state.js';
import { makeTempDir, removeTempDir } from './borg-fixtures.js';

let dir: string;

beforeAll(async () => {
  dir = await makeTempDir('state');
});

afterAll(async () => {
  await removeTempDir(dir);
});

describe('check state file', () => {
  it('missing file is empty', async () => {
    expect(await readCheckState(join(dir, 'absent.json'))).toEqual(emptyCheckState());
  });

  it('round trip with mode 0600', async () => {
    const file = join(dir, 'round.json');
    const state = emptyCheckState();
    const record = recordFor(
      state,
      '/srv/borg/a',
      'repository_only',
      new Date('2026-01-01T00:00:00Z'),
    );
    record.last_run = '2026-01-02T00:00:00.000Z';
    record.outcome = 'skipped';
    record.retry = true;
    await writeCheckState(file, state);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const read = await readCheckState(file);
    expect(read).toEqual(state);
    expect(checkStateSchema.parse(read).repositories['/srv/borg/a']?.repository_only?.retry).toBe(
      true,
    );
  });

  it('recordFor keeps first_seen', () => {
    const state = emptyCheckState();
    const first = recordFor(state, '/r', 'verify_data', new Date('2026-01-01T00:00:00Z'));
    const again = recordFor(state, '/r', 'verify_data', new Date('2026-02-01T00:00:00Z'));
    expect(again).toBe(first);
    expect(again.first_seen).toBe('2026-01-01T00:00:00.000Z');
  });

  it.each([
    ['not JSON', '{', /not valid JSON/],
    ['wrong version', '{"version": 2, "repositories": {}}', /version/],
    [
      'unknown outcome',
      '{"version": 1, "repositories": {"/r": {"repository_only": {"first_seen": "2026-01-01T00:00:00Z", "outcome": "great"}}}}',
      /outcome/,
    ],
    ['unknown kind', '{"version": 1, "repositories": {"/r": {"quick": {}}}}', /quick|Unrecognized/],
  ])('%s rejected', async (name, text, pattern) => {
    const file = join(dir, `${name.replaceAll(' ', '-')}.json`);
    await writeFile(file, text);
    const attempt = readCheckState(file);
    await expect(attempt).rejects.toBeInstanceOf(CheckStateError);
    await expect(attempt).rejects.toThrow(pattern);
  });
});
