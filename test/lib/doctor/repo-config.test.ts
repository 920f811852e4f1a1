import { describe, expect, it } from 'vitest';
import { parseRepositoryConfig } from '../../../src/lib/doctor/repo-config.js';

const BASE = [
  '[repository]',
  'version = 1',
  'segments_per_dir = 1000',
  'append_only = 0',
  'id = 90e2a2cbf0df15bedc89ac1c110212ea37ef7b1b06792376103fc5cac0f9831d',
];

describe('parseRepositoryConfig', () => {
  it.each([
    ['append_only 0', [...BASE], { appendOnly: false, key: undefined }],
    ['append_only 1', [...BASE, 'append_only = 1'], { appendOnly: true }],
    ['multi-line key', [...BASE, 'key = hqlh', '\tYWJj', '\tZGVm'], { key: 'hqlhYWJjZGVm' }],
    ['CRLF lines', BASE.map((line) => `${line}\r`), { appendOnly: false }],
    ['comments', ['# note', ...BASE, '; other'], { appendOnly: false }],
    ['other section ignored', [...BASE, '[other]', 'append_only = 1'], { appendOnly: false }],
  ])('%s', (_name, lines, expected) => {
    const config = parseRepositoryConfig(lines.join('\n'));
    expect(config).toMatchObject(expected);
    expect(config?.id).toBe('90e2a2cbf0df15bedc89ac1c110212ea37ef7b1b06792376103fc5cac0f9831d');
  });

  it.each([
    ['empty', ''],
    ['no repository section', '[cache]\nversion = 1\n'],
    ['not INI', 'hello world'],
  ])('rejects %s', (_name, text) => {
    expect(parseRepositoryConfig(text)).toBeUndefined();
  });
});
