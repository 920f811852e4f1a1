import { describe, expect, it } from 'vitest';
import { formatEntry } from '../../../src/lib/authorized-keys/entry.js';
import { collectKeyRecords } from '../../../src/lib/authorized-keys/key-records.js';
import {
  bufferSource,
  formatIndex,
  IndexBuilder,
} from '../../../src/lib/authorized-keys/lookup-index.js';
import { formatBlock } from '../../../src/lib/authorized-keys/managed-block.js';
import { blockText, checkKeys, renderBlock } from '../../../src/lib/authorized-keys/render.js';
import { makePolicy, randomPublicKey } from './fixtures.js';

const options = {
  gatePath: '/usr/local/bin/borg-gate',
  policyFile: '/etc/borg-gate/policy.yaml',
  blockName: 'default',
  now: new Date('2026-06-01T00:00:00Z'),
};

function policyOf(count: number) {
  return makePolicy(
    Array.from({ length: count }, (_, index) => ({
      id: `client-${index}`,
      keys: [`${randomPublicKey()} Zoë-${index}`],
      repositories: [`/srv/borg/client-${index}`],
      disabled: index % 10 === 3,
    })),
  );
}

/** Returns the block and index entries as the whole-string formatters make them. */
function expected(policy: ReturnType<typeof policyOf>) {
  const command = { ...options, auditLog: policy.audit_log };
  const records = collectKeyRecords(policy, options.now, 'policy.yaml');
  const entries = records
    .filter((record) => record.status === 'active')
    .map((record) => ({ base64: record.key.base64, line: formatEntry(record, command) }));
  const block = formatBlock(
    'default',
    options.policyFile,
    entries.map((entry) => entry.line),
  );
  return { block, entries };
}

function render(policy: ReturnType<typeof policyOf>, index?: IndexBuilder) {
  const { clients, ...settings } = policy;
  return renderBlock({ settings, clients }, 'policy.yaml', options, index);
}

describe('renderBlock', () => {
  it('small policy equals formatBlock', () => {
    const policy = policyOf(12);
    const rendered = render(policy);
    const pieces = Array.from(rendered.pieces);
    expect(pieces).toHaveLength(1);
    expect(Buffer.concat(pieces).toString('utf8')).toBe(expected(policy).block);
    expect(rendered.entryCount).toBe(expected(policy).entries.length);
    expect(rendered.lineCount).toBe(expected(policy).block.split('\n').length - 1);
  });

  it('large policy spans pieces', () => {
    const policy = policyOf(9000);
    const rendered = render(policy);
    const pieces = Array.from(rendered.pieces);
    expect(pieces.length).toBeGreaterThan(1);
    expect(Buffer.concat(pieces).toString('utf8')).toBe(expected(policy).block);
  });

  it('renders entries only as the pieces are read', () => {
    const policy = policyOf(9000);
    const index = new IndexBuilder();
    const rendered = render(policy, index);
    expect(rendered.entryCount).toBe(0);
    const first = (rendered.pieces as Generator<Buffer>).next();
    expect(first.done).toBe(false);
    expect(rendered.entryCount).toBeGreaterThan(0);
    expect(rendered.entryCount).toBeLessThan(expected(policy).entries.length);
    expect(blockText(rendered)).not.toBe('');
    expect(rendered.entryCount).toBe(expected(policy).entries.length);
  });

  it('bad key fails the iteration and checkKeys', () => {
    const policy = policyOf(5);
    policy.clients[3]!.keys = ['ssh-ed25519 AAAA client-3'];
    const rendered = render(policy);
    expect(() => blockText(rendered)).toThrow(/clients\[3\]\.keys\[0\] \(client "client-3"\)/);
    const { clients, ...settings } = policy;
    expect(() => checkKeys({ settings, clients }, 'policy.yaml', options.now)).toThrow(
      /clients\[3\]\.keys\[0\]/,
    );
  });

  it('key listed twice in one client fails', () => {
    const policy = policyOf(3);
    const key = randomPublicKey();
    policy.clients[1]!.keys = [key, `${key} again`];
    expect(() => blockText(render(policy))).toThrow(/already listed earlier in the same client/);
  });

  it('invalid block name renders nothing', () => {
    const { clients, ...settings } = policyOf(1);
    expect(() => renderBlock({ settings, clients }, 'p', { ...options, blockName: 'a b' })).toThrow(
      /--block "a b" is invalid/,
    );
  });
});

describe('IndexBuilder', () => {
  it('index equals formatIndex across pieces', () => {
    const policy = policyOf(9000);
    const index = new IndexBuilder();
    const block = bufferSource(Buffer.concat(Array.from(render(policy, index).pieces)));
    const hash = 'a'.repeat(64);
    const pieces = Array.from(index.pieces(hash, options, block), (piece) => Buffer.from(piece));
    const text = Buffer.concat(pieces).toString('utf8');
    expect(text).toBe(formatIndex(hash, options, expected(policy).entries));
    expect(index.byteLength(hash, options)).toBe(Buffer.byteLength(text));
    // A second call yields the same bytes.
    const again = Array.from(index.pieces(hash, options, block), (piece) => Buffer.from(piece));
    expect(Buffer.concat(again)).toEqual(Buffer.concat(pieces));
  });

  it('key that prefixes another sorts first', () => {
    const index = new IndexBuilder();
    const block = bufferSource(Buffer.from('o ssh-x AAAAB long\no ssh-x AAAA short\n'));
    index.add('AAAAB', 0, 18);
    index.add('AAAA', 19, 37);
    const text = Buffer.concat(Array.from(index.pieces('b'.repeat(64), options, block)));
    expect(text.toString().split('\n').slice(5, 7)).toEqual([
      'AAAA o ssh-x AAAA short',
      'AAAAB o ssh-x AAAAB long',
    ]);
  });
});
