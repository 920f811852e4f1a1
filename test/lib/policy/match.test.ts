import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../../src/lib/policy/load.js';
import { matchGrant } from '../../../src/lib/policy/match.js';

const client = parsePolicy(
  'p.yaml',
  [
    'version: 1',
    'clients:',
    '  - id: web01',
    '    keys: [k]',
    '    mode: append-only',
    '    storage_quota: 10G',
    '    repositories:',
    '      - /srv/borg/web01',
    '      - {path: /srv/borg/archive, mode: read-only, name: archive}',
    '    paths: [/srv/borg/extra, /srv/borg/extra/deep]',
  ].join('\n'),
).clients[0]!;

describe('matchGrant', () => {
  it.each([
    ['/srv/borg/web01', '/srv/borg/web01', 'append-only'],
    ['/srv/borg/archive', '/srv/borg/archive', 'read-only'],
    ['/srv/borg/extra/r1', '/srv/borg/extra', 'append-only'],
    ['/srv/borg/extra/deep/r2', '/srv/borg/extra/deep', 'append-only'],
    ['/srv/borg/extra', '/srv/borg/extra', 'append-only'],
  ])('%s matches %s', (requested, path, mode) => {
    const grant = matchGrant(client, requested);
    expect(grant?.path).toBe(path);
    expect(grant?.mode).toBe(mode);
  });

  it.each(['/srv/borg/web01/data', '/srv/borg/web010', '/srv/borg/extras', '/srv/borg', '/'])(
    '%s matches nothing',
    (requested) => {
      expect(matchGrant(client, requested)).toBeUndefined();
    },
  );

  it('carries the client quota', () => {
    expect(matchGrant(client, '/srv/borg/web01')?.storageQuota).toBe('10G');
  });
});
