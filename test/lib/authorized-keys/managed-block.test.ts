import { describe, expect, it } from 'vitest';
import { gateEntryPattern } from '../../../src/lib/authorized-keys/entry.js';
import { AuthorizedKeysError } from '../../../src/lib/authorized-keys/errors.js';
import {
  checkBlockName,
  findBlock,
  findLinesOutsideBlocks,
  formatBlock,
  splitAtBlock,
} from '../../../src/lib/authorized-keys/managed-block.js';

const block = formatBlock('default', '/etc/borg-gate/policy.yaml', ['entry one', 'entry two']);
const newBlock = formatBlock('default', '/etc/borg-gate/policy.yaml', ['entry three']);
const other = formatBlock('offsite', '/etc/borg-gate/offsite.yaml', ['offsite entry']);

function toLatin1(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

/** Replaces a block in file text held as latin1, as keys write does on the file's bytes. */
function replaceBlock(text: string, name: string, newText: string, file: string): string {
  const split = splitAtBlock(Buffer.from(text, 'latin1'), name, file);
  return Buffer.concat([...split.before, Buffer.from(newText, 'utf8'), split.after]).toString(
    'latin1',
  );
}

describe('splitAtBlock', () => {
  it('cuts around the block and keeps its old bytes', () => {
    const content = Buffer.from(`# top\n${toLatin1(block)}after\n`, 'latin1');
    const split = splitAtBlock(content, 'default', 'ak');
    expect(Buffer.concat(split.before).toString('latin1')).toBe('# top\n');
    expect(split.old.toString('utf8')).toBe(block);
    expect(split.after.toString('latin1')).toBe('after\n');
  });

  it('file without the block keeps everything before it', () => {
    const split = splitAtBlock(Buffer.from('ssh-ed25519 AAAA admin'), 'default', 'ak');
    expect(Buffer.concat(split.before).toString()).toBe('ssh-ed25519 AAAA admin\n');
    expect(split.old.length).toBe(0);
    expect(split.after.length).toBe(0);
  });

  it('empty file has nothing around the block', () => {
    const split = splitAtBlock(Buffer.alloc(0), 'default', 'ak');
    expect(Buffer.concat(split.before).length).toBe(0);
    expect(split.old.length + split.after.length).toBe(0);
  });
});

describe('replaceBlock', () => {
  it.each([
    ['empty file', '', '', ''],
    ['lines before', 'ssh-ed25519 AAAA admin\n', '', ''],
    ['lines after', '', '# kept\nssh-rsa BBBB other\n', ''],
    ['before and after', '# top\r\n', 'tail without newline', ''],
    ['invalid UTF-8 kept', '\xff\xfe bytes\n', '\x80\n', ''],
  ])('%s round trip', (_name, before, after) => {
    const text = `${before}${toLatin1(block)}${after}`;
    const replaced = replaceBlock(text, 'default', newBlock, 'ak');
    expect(replaced).toBe(`${before}${toLatin1(newBlock)}${after}`);
    expect(replaceBlock(replaced, 'default', block, 'ak')).toBe(text);
  });

  it('foreign lines between blocks kept', () => {
    const text = `# a\n${toLatin1(other)}# between\n${toLatin1(block)}# after\n`;
    const replaced = replaceBlock(text, 'default', newBlock, 'ak');
    expect(replaced).toBe(`# a\n${toLatin1(other)}# between\n${toLatin1(newBlock)}# after\n`);
  });

  it('other block untouched', () => {
    const text = `${toLatin1(block)}${toLatin1(other)}`;
    const replaced = replaceBlock(text, 'offsite', newBlock.replaceAll('default', 'offsite'), 'ak');
    expect(replaced.startsWith(toLatin1(block))).toBe(true);
  });

  it('appends when missing', () => {
    expect(replaceBlock('ssh-ed25519 AAAA admin\n', 'default', block, 'ak')).toBe(
      `ssh-ed25519 AAAA admin\n${block}`,
    );
  });

  it('adds newline before append', () => {
    expect(replaceBlock('ssh-ed25519 AAAA admin', 'default', block, 'ak')).toBe(
      `ssh-ed25519 AAAA admin\n${block}`,
    );
  });

  it('UTF-8 comment survives', () => {
    const utf8Block = formatBlock('default', '/p.yaml', ['key Zoë']);
    const replaced = replaceBlock('', 'default', utf8Block, 'ak');
    expect(Buffer.from(replaced, 'latin1').toString('utf8')).toBe(utf8Block);
  });

  it('marker look-alike is foreign', () => {
    const text =
      '#  BEGIN borg-gate managed block default\nx # END borg-gate managed block default\n';
    expect(replaceBlock(text, 'default', block, 'ak')).toBe(`${text}${block}`);
  });
});

describe('findBlock errors', () => {
  it.each([
    [
      'unterminated',
      `# BEGIN borg-gate managed block default\nx\n`,
      /ak:1: block "default" has no END marker/,
    ],
    [
      'END first',
      `# END borg-gate managed block default\n`,
      /ak:1: END marker for "default" without its BEGIN/,
    ],
    [
      'nested',
      `# BEGIN borg-gate managed block a\n# BEGIN borg-gate managed block b\n`,
      /ak:2: BEGIN marker inside block "a"/,
    ],
    [
      'mismatched END',
      `# BEGIN borg-gate managed block a\n# END borg-gate managed block b\n`,
      /ak:2: END marker for "b"/,
    ],
    ['duplicate', `${block}${block}`, /ak:6: second managed block named "default"/],
  ])('%s', (_name, text, message) => {
    expect(() => findBlock(text, 'default', 'ak')).toThrow(message);
    expect(() => findBlock(Buffer.from(text, 'latin1'), 'default', 'ak')).toThrow(message);
  });

  it('bytes and text give one location', () => {
    const text = `# top\n${toLatin1(other)}${toLatin1(block)}tail`;
    const location = findBlock(text, 'default', 'ak');
    expect(location).toBeDefined();
    expect(findBlock(Buffer.from(text, 'latin1'), 'default', 'ak')).toEqual(location);
  });

  it('error tells how to fix', () => {
    expect(() => findBlock(`${block}${block}`, 'default', 'ak')).toThrow(
      /fix the borg-gate marker lines by hand/,
    );
  });
});

describe('findLinesOutsideBlocks', () => {
  it.each([
    ['only a block', block, []],
    ['comments and blanks', `# admin\n\n   \n${block}`, []],
    ['key before', `ssh-ed25519 AAAA admin\n${block}`, [1]],
    ['key after', `${block}restrict ssh-rsa BBBB x\n`, [6]],
    ['between blocks', `${other}ssh-ed25519 AAAA x\n${block}`, [5]],
    ['no markers', 'ssh-ed25519 AAAA a\nssh-ed25519 BBBB b', [1, 2]],
    ['unclosed BEGIN', '# BEGIN borg-gate managed block x\nssh-ed25519 AAAA a\n', [2]],
    [
      'END of other name',
      `${block.replace('END borg-gate managed block default', 'END borg-gate managed block x')}k\n`,
      [3, 4, 6],
    ],
  ])('%s', (_name, text, expected) => {
    expect(findLinesOutsideBlocks(text).map((entry) => entry.line)).toEqual(expected);
    const bytes = Buffer.from(text, 'latin1');
    expect(findLinesOutsideBlocks(bytes).map((entry) => entry.line)).toEqual(expected);
  });

  it('returns the line text', () => {
    expect(findLinesOutsideBlocks(`${block}ssh-ed25519 AAAA x\n`)).toEqual([
      { line: 6, text: 'ssh-ed25519 AAAA x' },
    ]);
  });

  it('flags key lines of other blocks without the command', () => {
    const gate = { block: 'default', entry: gateEntryPattern('/usr/bin/borg-gate') };
    const forged = formatBlock('zz', '/p', ['ssh-ed25519 AAAA hidden']);
    const genuine = formatBlock('offsite', '/p', [
      'command="/usr/bin/borg-gate serve --client a",restrict ssh-ed25519 BBBB a',
    ]);
    const text = `${toLatin1(block)}${forged}${genuine}`;
    expect(findLinesOutsideBlocks(text, gate)).toEqual([
      { line: 8, text: 'ssh-ed25519 AAAA hidden', block: 'zz' },
    ]);
    // The own block is left to the diff against the policy.
    expect(findLinesOutsideBlocks(`${forged.replaceAll('zz', 'default')}`, gate)).toEqual([]);
    expect(findLinesOutsideBlocks(text)).toEqual([]);
  });

  it('returns unclosed block lines as text', () => {
    const text = '# BEGIN borg-gate managed block x\n# note\nssh-rsa BBBB b\n';
    expect(findLinesOutsideBlocks(Buffer.from(text, 'latin1'))).toEqual([
      { line: 3, text: 'ssh-rsa BBBB b' },
    ]);
  });
});

describe('checkBlockName', () => {
  it.each(['default', 'offsite-2', 'a.b_c', 'x'.repeat(64)])('accepts %s', (name) => {
    expect(() => checkBlockName(name)).not.toThrow();
  });

  it.each([
    ['newline', 'x\nssh-ed25519 AAAA evil', '"x\\nssh-ed25519 AAAA evil"'],
    ['empty', '', '""'],
    ['leading dash', '-x', '"-x"'],
    ['space', 'a b', '"a b"'],
    ['too long', 'x'.repeat(65), `"${'x'.repeat(65)}"`],
    ['escape', 'a\u001b[31m', '"a\\x1b[31m"'],
  ])('rejects %s', (_case, name, shown) => {
    expect(() => checkBlockName(name)).toThrow(AuthorizedKeysError);
    expect(() => checkBlockName(name)).toThrow(`--block ${shown} is invalid`);
    expect(() => checkBlockName(name)).toThrow('A-Z, a-z, 0-9, ".", "_" or "-"');
  });

  it('guards format, find and replace', () => {
    const name = 'x\nssh-ed25519 AAAA evil';
    expect(() => formatBlock(name, '/p', [])).toThrow(AuthorizedKeysError);
    expect(() => findBlock('', name, 'ak')).toThrow(AuthorizedKeysError);
    expect(() => replaceBlock('', name, block, 'ak')).toThrow(AuthorizedKeysError);
  });
});
