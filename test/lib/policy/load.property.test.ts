import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { PolicyError } from '../../../src/lib/policy/errors.js';
import { parsePolicy } from '../../../src/lib/policy/load.js';
import { CLIENT_ID_PATTERN, type Policy } from '../../../src/lib/policy/schema.js';

const KEY_A =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJZ3sQ1lk1FGy0vU7uJYkUtlN3kN5sMLb6JqvU8bZ3Xk a@test';
const KEY_B =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH0Q9mD3dC4KqOeUeZMuy7Zc5H6Vw5J1h8cuHq2vNfPb b@test';

function validPolicy(): Record<string, unknown> {
  return {
    version: 1,
    audit_log: '/var/log/gate-test/audit.log',
    borg: { umask: '0077', binaries: { borg: '/usr/bin/borg', borg1: { path: '/usr/bin/borg' } } },
    checks: { defaults: { timeout: '6h' }, repositories: { '/srv/borg/a': { disabled: true } } },
    clients: [
      {
        id: 'web01',
        keys: [KEY_A, { key: KEY_B, expires: '2030-01-01' }],
        repositories: ['/srv/borg/a', { path: '/srv/borg/b', name: 'b', mode: 'read-only' }],
        paths: ['/srv/borg/c'],
        storage_quota: '500G',
        from: ['192.0.2.0/24'],
      },
      {
        id: 'db01',
        keys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIdb01 db@test'],
        paths: ['/srv/x'],
      },
    ],
  };
}

/**
 * Runs parsePolicy and fails on anything it throws other than a PolicyError. A policy that is
 * accepted must only grant absolute paths to well-formed client ids.
 */
function expectOnlyPolicyErrors(source: string): void {
  let policy: Policy;
  try {
    policy = parsePolicy('p.yaml', source);
  } catch (error) {
    if (!(error instanceof PolicyError)) {
      throw new Error(`parsePolicy threw ${String(error)} for ${JSON.stringify(source)}`, {
        cause: error,
      });
    }
    expect(error.message.startsWith('p.yaml: ')).toBe(true);
    return;
  }
  for (const client of policy.clients) {
    expect(client.id).toMatch(CLIENT_ID_PATTERN);
    for (const entry of client.repositories) {
      expect((typeof entry === 'string' ? entry : entry.path).startsWith('/')).toBe(true);
    }
    for (const path of client.paths) {
      expect(path.startsWith('/')).toBe(true);
    }
  }
}

/** Pieces of YAML syntax and of the policy's own vocabulary, so random text reaches the parser's corners. */
const yamlToken = fc.constantFrom(
  'version: 1\n',
  'clients:\n',
  '  - id: web01\n',
  '    keys: [',
  `"${KEY_A}"`,
  ']\n',
  '    repositories: ',
  '/srv/borg/a',
  '    mode: ',
  'read-write',
  ': ',
  '- ',
  '\n',
  '  ',
  '[',
  ']',
  '{',
  '}',
  ',',
  '&a ',
  '*a',
  '!!binary ',
  '!!str ',
  '!custom ',
  '|\n',
  '>-\n',
  "'",
  '"',
  '#',
  '---\n',
  '...\n',
  '? ',
  '<<: ',
  '__proto__',
  'null',
  '~',
  '0077',
  '1e999',
  '2027-02-30',
  '\t',
  '\u0000',
  '\u00e9',
  '\ud83d\ude00',
  '%YAML 1.1\n',
  '%TAG ! tag:example.com,2000:\n',
);

/** One change to a value tree: replace a node, delete a key, or add an unknown key. */
type Mutation = { path: number[]; action: 'replace' | 'delete' | 'add'; value: unknown };

const mutation: fc.Arbitrary<Mutation> = fc.record({
  path: fc.array(fc.nat(), { minLength: 1, maxLength: 5 }),
  action: fc.constantFrom('replace', 'delete', 'add'),
  value: fc.oneof(
    fc.jsonValue(),
    fc.date({ noInvalidDate: true }),
    fc.constantFrom('/srv/borg/a', '../etc', '', '0077', 'read-write', KEY_A, null),
  ),
});

/** Applies a mutation, choosing each step of the path among the node's existing keys. */
function mutate(root: Record<string, unknown>, change: Mutation): void {
  let node: unknown = root;
  for (const [depth, step] of change.path.entries()) {
    if (node === null || typeof node !== 'object') {
      return;
    }
    const container = node as Record<string, unknown>;
    const keys = Object.keys(container);
    if (keys.length === 0) {
      return;
    }
    const key = keys[step % keys.length]!;
    if (depth === change.path.length - 1) {
      if (change.action === 'replace') {
        container[key] = change.value;
      } else if (change.action === 'delete') {
        delete container[key];
      } else {
        container[`extra_${step}`] = change.value;
      }
      return;
    }
    node = container[key];
  }
}

describe('parsePolicy properties', () => {
  it('valid base policy parses', () => {
    expect(parsePolicy('p.yaml', stringify(validPolicy())).clients).toHaveLength(2);
  });

  it('arbitrary text throws only PolicyError', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), expectOnlyPolicyErrors),
      {
        numRuns: 500,
      },
    );
  });

  it('YAML-like text throws only PolicyError', () => {
    fc.assert(
      fc.property(fc.array(yamlToken, { maxLength: 60 }), (tokens) =>
        expectOnlyPolicyErrors(tokens.join('')),
      ),
      { numRuns: 500 },
    );
  });

  it('mutated policy throws only PolicyError', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (changes) => {
        const policy = validPolicy();
        for (const change of changes) {
          mutate(policy, change);
        }
        expectOnlyPolicyErrors(stringify(policy));
      }),
      { numRuns: 500 },
    );
  });

  it('edited policy text throws only PolicyError', () => {
    const text = stringify(validPolicy());
    const edit = fc.record({
      at: fc.nat({ max: text.length }),
      remove: fc.nat({ max: 20 }),
      insert: fc.oneof(fc.string({ maxLength: 10 }), yamlToken),
    });
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 5 }), (edits) => {
        let edited = text;
        for (const { at, remove, insert } of edits) {
          const position = Math.min(at, edited.length);
          edited = edited.slice(0, position) + insert + edited.slice(position + remove);
        }
        expectOnlyPolicyErrors(edited);
      }),
      { numRuns: 500 },
    );
  });
});
