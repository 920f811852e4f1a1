import { describe, expect, it } from 'vitest';
import { parseSshCommand } from '../../../src/lib/ssh-command/parse.js';
import type { RejectReason, ServeRequest } from '../../../src/lib/ssh-command/types.js';

type Expected = { reason: RejectReason } | Partial<ServeRequest>;

const BASE: ServeRequest = { kind: 'borg-serve', program: 'borg', debugTopics: [], logJson: false };

function accepted(fields: Partial<ServeRequest> = {}): Expected {
  return fields;
}

function rejected(reason: RejectReason): Expected {
  return { reason };
}

const TOPIC = 'borg.debug.repository.compaction';

const ACCEPTED_CASES: [string, string, Expected][] = [
  ['borg 1.0 default', 'borg serve --umask=077', accepted({ umask: '077' })],
  ['borg 1.0 info', 'borg serve --umask=077 --info', accepted({ umask: '077', logLevel: 'info' })],
  [
    'borg 1.1 debug topic',
    `borg serve --umask=077 --debug --debug-topic=${TOPIC}`,
    accepted({ umask: '077', logLevel: 'debug', debugTopics: [TOPIC] }),
  ],
  [
    'borg 1.1 hostname env',
    'BORG_HOSTNAME_IS_UNIQUE=no borg serve --umask=077 --info',
    accepted({ umask: '077', logLevel: 'info' }),
  ],
  [
    'borg 1.1 storage quota',
    'borg serve --umask=077 --storage-quota=5G',
    accepted({ umask: '077', storageQuota: '5G' }),
  ],
  [
    'borg 1.1 error level',
    'borg1 serve --umask=077 --error',
    accepted({ program: 'borg1', umask: '077', logLevel: 'error' }),
  ],
  ['borg 1.2 default', 'borg serve', accepted()],
  ['borg 1.2 info', 'borg serve --info', accepted({ logLevel: 'info' })],
  ['borg 1.2 critical', 'borg serve --critical', accepted({ logLevel: 'critical' })],
  ['borg 1.2 error', 'borg serve --error', accepted({ logLevel: 'error' })],
  [
    'borg 1.2 debug topic',
    `borg serve --debug --debug-topic=${TOPIC}`,
    accepted({ logLevel: 'debug', debugTopics: [TOPIC] }),
  ],
  ['borg 1.2 absolute path', '/usr/bin/borg serve', accepted({ program: '/usr/bin/borg' })],
  ['borg 1.2 init quota', 'borg serve --storage-quota=10M', accepted({ storageQuota: '10M' })],
  [
    'borg 1.4 versioned path',
    '/usr/local/bin/borg-1.4 serve --info',
    accepted({ program: '/usr/local/bin/borg-1.4', logLevel: 'info' }),
  ],
  [
    'borg 1.4 fractional quota',
    'borg serve --storage-quota=1.5T',
    accepted({ storageQuota: '1.5T' }),
  ],
  [
    'borg 2 debug',
    'borg2 serve --debug --debug-topic=borg.debug.repository',
    accepted({ program: 'borg2', logLevel: 'debug', debugTopics: ['borg.debug.repository'] }),
  ],
  ['borg 2 info', 'borg serve --info', accepted({ logLevel: 'info' })],
  ['program with plus', 'borg+x serve', accepted({ program: 'borg+x' })],
  ['short verbose', 'borg serve -v', accepted({ logLevel: 'info' })],
  ['long verbose', 'borg serve --verbose', accepted({ logLevel: 'info' })],
  ['warning level', 'borg serve --warning', accepted({ logLevel: 'warning' })],
  ['log json', 'borg serve --log-json', accepted({ logJson: true })],
  ['log json twice', 'borg serve --log-json --log-json', accepted({ logJson: true })],
  ['lock wait split', 'borg serve --lock-wait 5', accepted({ lockWait: 5 })],
  ['lock wait inline', 'borg serve --lock-wait=5', accepted({ lockWait: 5 })],
  ['lock wait zero', 'borg serve --lock-wait=0', accepted({ lockWait: 0 })],
  ['lock wait one day', 'borg serve --lock-wait=86400', accepted({ lockWait: 86400 })],
  [
    'debug topic split',
    'borg serve --debug-topic repository',
    accepted({ debugTopics: ['repository'] }),
  ],
  [
    'debug topics repeated',
    'borg serve --debug-topic=a --debug-topic b_c.d',
    accepted({ debugTopics: ['a', 'b_c.d'] }),
  ],
  ['umask split', 'borg serve --umask 0077', accepted({ umask: '0077' })],
  ['umask zero', 'borg serve --umask=0', accepted({ umask: '0' })],
  ['quota split', 'borg serve --storage-quota 2T', accepted({ storageQuota: '2T' })],
  [
    'quota plain bytes',
    'borg serve --storage-quota=10000000',
    accepted({ storageQuota: '10000000' }),
  ],
  ['extra spaces', '  borg   serve   --info  ', accepted({ logLevel: 'info' })],
  ['empty env value', 'A= borg serve', accepted()],
  ['two env words', 'LANG=C.UTF-8 TZ=UTC borg serve', accepted()],
  ['env with path value', 'PATH=/usr/bin:/bin borg serve', accepted()],
  ['log levels last wins', 'borg serve --debug --info', accepted({ logLevel: 'info' })],
  ['verbose then critical', 'borg serve -v --critical', accepted({ logLevel: 'critical' })],
  ['ignored show-rc', 'borg serve --show-rc', accepted()],
  ['ignored progress', 'borg serve -p --progress', accepted()],
  ['ignored iec', 'borg serve --iec --show-version', accepted()],
  ['ignored part files', 'borg serve --consider-part-files', accepted()],
  ['ignored ratelimit', 'borg serve --upload-ratelimit=100', accepted()],
  ['ignored old buffer', 'borg serve --remote-buffer 5', accepted()],
  [
    'all allowed flags',
    'borg serve --info --debug-topic=x --log-json --lock-wait=3 --umask=027 --storage-quota=1G',
    accepted({
      logLevel: 'info',
      debugTopics: ['x'],
      logJson: true,
      lockWait: 3,
      umask: '027',
      storageQuota: '1G',
    }),
  ],
];

const CHARACTER_CASES: [string, string | undefined, Expected][] = [
  ['undefined', undefined, rejected('empty')],
  ['empty string', '', rejected('empty')],
  ['only spaces', '   ', rejected('empty')],
  ['only tab', '\t', rejected('bad-characters')],
  ['tab separator', 'borg\tserve', rejected('bad-characters')],
  ['trailing newline', 'borg serve\n', rejected('bad-characters')],
  ['second line', 'borg serve\nid', rejected('bad-characters')],
  ['leading newline', '\nborg serve', rejected('bad-characters')],
  ['NUL byte', 'borg serve\0 --append-only', rejected('bad-characters')],
  ['carriage return', 'borg serve\r', rejected('bad-characters')],
  ['ANSI escape', 'borg serve \x1b[2J', rejected('bad-characters')],
  ['DEL character', 'borg serve\x7f', rejected('bad-characters')],
  ['vertical tab', 'borg\vserve', rejected('bad-characters')],
  ['Cyrillic e in serve', 'borg s\u0435rve', rejected('bad-characters')],
  ['Cyrillic o in borg', 'b\u043erg serve', rejected('bad-characters')],
  ['fullwidth hyphen', 'borg serve \uff0d\uff0dinfo', rejected('bad-characters')],
  ['en dash flag', 'borg serve \u2013info', rejected('bad-characters')],
  ['RTL mark', 'borg serve\u200f', rejected('bad-characters')],
  ['RTL override', 'borg serve --\u202eofni', rejected('bad-characters')],
  ['zero-width space', 'borg ser\u200bve', rejected('bad-characters')],
  ['no-break space', 'borg\u00a0serve', rejected('bad-characters')],
  ['byte order mark', '\ufeffborg serve', rejected('bad-characters')],
  ['C1 control', 'borg serve\u009b', rejected('bad-characters')],
  ['replacement char', 'borg serve \ufffd', rejected('bad-characters')],
  ['64 KiB input', `borg serve ${'-v '.repeat(21_845)}`, rejected('too-long')],
  ['4097 bytes', `borg serve${' '.repeat(4087)}`, rejected('too-long')],
  ['4096 bytes', `borg serve${' '.repeat(4086)}`, accepted()],
  ['multibyte over limit', `borg serve ${'\u00e9'.repeat(2100)}`, rejected('too-long')],
];

const SHELL_CASES: [string, string, Expected][] = [
  ['semicolon', 'borg serve; id', rejected('shell-syntax')],
  ['semicolon no space', 'borg serve;id', rejected('shell-syntax')],
  ['and list', 'borg serve && id', rejected('shell-syntax')],
  ['or list', 'borg serve || id', rejected('shell-syntax')],
  ['pipe', 'borg serve | nc 127.0.0.1 9', rejected('shell-syntax')],
  ['background', 'borg serve & id', rejected('shell-syntax')],
  ['redirect out', 'borg serve > /tmp/x', rejected('shell-syntax')],
  ['redirect append', 'borg serve >> /tmp/x', rejected('shell-syntax')],
  ['redirect in', 'borg serve < /etc/passwd', rejected('shell-syntax')],
  ['process substitution', 'borg serve <(id)', rejected('shell-syntax')],
  ['subshell', '(borg serve)', rejected('shell-syntax')],
  ['command substitution', 'borg serve $(id)', rejected('shell-syntax')],
  ['substitution as program', '$(id) serve', rejected('shell-syntax')],
  ['backticks', 'borg serve `id`', rejected('shell-syntax')],
  ['variable', 'borg serve $HOME', rejected('shell-syntax')],
  ['IFS trick', 'borg$' + '{IFS}serve', rejected('shell-syntax')],
  ['double quotes', 'borg "serve"', rejected('shell-syntax')],
  ['single quotes', "borg 'serve'", rejected('shell-syntax')],
  ['empty quotes in word', 'bo""rg serve', rejected('shell-syntax')],
  ['quoted flag', "borg serve '--restrict-to-path=/'", rejected('shell-syntax')],
  ['backslash flag', 'borg serve \\--info', rejected('shell-syntax')],
  ['backslash in word', 'borg se\\rve', rejected('shell-syntax')],
  ['comment', 'borg serve #--info', rejected('shell-syntax')],
  ['glob star', 'borg serve *', rejected('shell-syntax')],
  ['glob question', 'borg serve --inf?', rejected('shell-syntax')],
  ['bracket glob', 'borg serve --[i]nfo', rejected('shell-syntax')],
  ['brace expansion', 'borg serve --{info,debug}', rejected('shell-syntax')],
  ['tilde', '~/borg serve', rejected('shell-syntax')],
  ['history bang', 'borg serve !1', rejected('shell-syntax')],
  ['caret', 'borg serve --info^', rejected('shell-syntax')],
];

const PROGRAM_CASES: [string, string, Expected][] = [
  ['scp upload', 'scp -t /srv/backup', rejected('not-borg-serve')],
  ['scp download', 'scp -f /etc/passwd', rejected('not-borg-serve')],
  ['rsync server', 'rsync --server -vlogDtpre.iLsfxC . /srv', rejected('not-borg-serve')],
  ['sftp', 'sftp', rejected('not-borg-serve')],
  ['internal-sftp', 'internal-sftp', rejected('not-borg-serve')],
  ['sftp-server path', '/usr/lib/openssh/sftp-server', rejected('not-borg-serve')],
  ['git-upload-pack', 'git-upload-pack /srv/x.git', rejected('not-borg-serve')],
  ['git-receive-pack', 'git-receive-pack x.git', rejected('not-borg-serve')],
  ['df', 'df', rejected('not-borg-serve')],
  ['pwd', 'pwd', rejected('not-borg-serve')],
  ['sh -c', 'sh -c id', rejected('not-borg-serve')],
  ['bash', 'bash', rejected('not-borg-serve')],
  ['borg alone', 'borg', rejected('not-borg-serve')],
  ['borg list', 'borg list /srv/repo', rejected('not-borg-serve')],
  ['borg init', 'borg init -e none /srv/repo', rejected('not-borg-serve')],
  ['capital Serve', 'borg Serve', rejected('not-borg-serve')],
  ['serve suffix', 'borg serve2', rejected('not-borg-serve')],
  ['option before serve', 'borg --info serve', rejected('not-borg-serve')],
  ['dotdot program', '../../bin/sh serve', rejected('not-borg-serve')],
  ['dotdot in absolute', '/usr/bin/../../tmp/x serve', rejected('not-borg-serve')],
  ['dot segment', '/usr/./bin/borg serve', rejected('not-borg-serve')],
  ['relative dot', './borg serve', rejected('not-borg-serve')],
  ['relative path', 'bin/borg serve', rejected('not-borg-serve')],
  ['double slash', '/usr//bin/borg serve', rejected('not-borg-serve')],
  ['trailing slash', '/usr/bin/borg/ serve', rejected('not-borg-serve')],
  ['root only', '/ serve', rejected('not-borg-serve')],
  ['dash program', '-borg serve', rejected('not-borg-serve')],
  ['program is dotdot', '.. serve', rejected('not-borg-serve')],
  ['env only', 'FOO=bar', rejected('not-borg-serve')],
  ['env words only', 'A=1 B=2', rejected('not-borg-serve')],
  ['bad env name', '1A=b borg serve', rejected('not-borg-serve')],
  ['bad env value', 'A=b@c borg serve', rejected('not-borg-serve')],
  ['env after program', 'borg A=1 serve', rejected('not-borg-serve')],
  ['program too long', `${'b'.repeat(256)} serve`, rejected('not-borg-serve')],
];

const FORBIDDEN_WITH_VALUE = [
  '--restrict-to-path',
  '--restrict-to-repository',
  '--debug-profile',
  '--rsh',
  '--remote-path',
  '--permissions',
  '--socket',
];
const FORBIDDEN_SWITCHES = ['--append-only', '--bypass-lock', '--help', '-h'];

const FORBIDDEN_CASES: [string, string, Expected][] = [
  ...FORBIDDEN_WITH_VALUE.flatMap((flag): [string, string, Expected][] => [
    [`${flag} split`, `borg serve ${flag} /`, rejected('forbidden-flag')],
    [`${flag} inline`, `borg serve ${flag}=/`, rejected('forbidden-flag')],
  ]),
  ...FORBIDDEN_SWITCHES.map((flag): [string, string, Expected] => [
    `${flag} switch`,
    `borg serve ${flag}`,
    rejected('forbidden-flag'),
  ]),
  ['append-only inline', 'borg serve --append-only=1', rejected('forbidden-flag')],
  ['forbidden after allowed', 'borg serve --info --append-only', rejected('forbidden-flag')],
  ['debug-profile file', 'borg serve --debug-profile=/etc/x', rejected('forbidden-flag')],
  ['restrict-to-path root', 'borg serve --restrict-to-path=/', rejected('forbidden-flag')],
  ['double dash alone', 'borg serve --', rejected('forbidden-flag')],
  ['double dash then flag', 'borg serve -- --info', rejected('forbidden-flag')],
  ['double dash after flag', 'borg serve --info -- /srv', rejected('forbidden-flag')],
  ['double dash inline', 'borg serve --=--append-only', rejected('forbidden-flag')],
];

const FLAG_CASES: [string, string, Expected][] = [
  ['prefix abbreviation', 'borg serve --inf', rejected('unknown-flag')],
  ['ambiguous prefix', 'borg serve --deb', rejected('unknown-flag')],
  ['clustered short', 'borg serve -vv', rejected('unknown-flag')],
  ['short with equals', 'borg serve -v=1', rejected('unknown-flag')],
  ['version flag', 'borg serve --version', rejected('unknown-flag')],
  ['triple dash', 'borg serve ---info', rejected('unknown-flag')],
  ['single dash', 'borg serve -', rejected('unknown-flag')],
  ['uppercase flag', 'borg serve --INFO', rejected('unknown-flag')],
  ['plural restrict', 'borg serve --restrict-to-paths=/', rejected('unknown-flag')],
  ['underscore flag', 'borg serve --append_only', rejected('unknown-flag')],
  ['made-up flag', 'borg serve --foo=bar', rejected('unknown-flag')],
  ['glued value', 'borg serve --lock-wait5', rejected('unknown-flag')],
  ['lock wait missing', 'borg serve --lock-wait', rejected('bad-flag-value')],
  ['lock wait negative', 'borg serve --lock-wait=-1', rejected('bad-flag-value')],
  ['lock wait over a day', 'borg serve --lock-wait=86401', rejected('bad-flag-value')],
  ['lock wait fraction', 'borg serve --lock-wait=1.5', rejected('bad-flag-value')],
  ['lock wait plus sign', 'borg serve --lock-wait=+5', rejected('bad-flag-value')],
  ['lock wait underscore', 'borg serve --lock-wait=1_0', rejected('bad-flag-value')],
  ['lock wait empty', 'borg serve --lock-wait=', rejected('bad-flag-value')],
  ['lock wait eats flag', 'borg serve --lock-wait --info', rejected('bad-flag-value')],
  ['umask digit 8', 'borg serve --umask=8', rejected('bad-flag-value')],
  ['umask python octal', 'borg serve --umask=0o77', rejected('bad-flag-value')],
  ['umask five digits', 'borg serve --umask=77777', rejected('bad-flag-value')],
  ['quota below minimum', 'borg serve --storage-quota=5M', rejected('bad-flag-value')],
  ['quota exponent', 'borg serve --storage-quota=1e12', rejected('bad-flag-value')],
  ['quota infinity', 'borg serve --storage-quota=inf', rejected('bad-flag-value')],
  ['quota IEC suffix', 'borg serve --storage-quota=10Gi', rejected('bad-flag-value')],
  ['quota negative', 'borg serve --storage-quota=-1G', rejected('bad-flag-value')],
  ['quota lowercase', 'borg serve --storage-quota=10g', rejected('bad-flag-value')],
  ['topic with slash', 'borg serve --debug-topic=a/b', rejected('bad-flag-value')],
  ['topic empty', 'borg serve --debug-topic=', rejected('bad-flag-value')],
  ['topic too long', `borg serve --debug-topic=${'a'.repeat(129)}`, rejected('bad-flag-value')],
  ['topic eats flag', 'borg serve --debug-topic --info', rejected('bad-flag-value')],
  ['switch with value', 'borg serve --info=yes', rejected('bad-flag-value')],
  ['json with value', 'borg serve --log-json=1', rejected('bad-flag-value')],
  ['ignored with bad value', 'borg serve --upload-ratelimit=x', rejected('bad-flag-value')],
  ['umask twice', 'borg serve --umask=077 --umask=000', rejected('bad-flag-value')],
  ['lock wait twice', 'borg serve --lock-wait=1 --lock-wait 2', rejected('bad-flag-value')],
  ['quota twice', 'borg serve --storage-quota=1T --storage-quota=20M', rejected('bad-flag-value')],
  ['repository positional', 'borg serve /srv/repo', rejected('extra-arguments')],
  ['word after flag', 'borg serve --info extra', rejected('extra-arguments')],
  ['serve twice', 'borg serve serve', rejected('extra-arguments')],
  ['value then extra', 'borg serve --lock-wait 5 6', rejected('extra-arguments')],
];

const ALL_CASES = [
  ...ACCEPTED_CASES,
  ...CHARACTER_CASES,
  ...SHELL_CASES,
  ...PROGRAM_CASES,
  ...FORBIDDEN_CASES,
  ...FLAG_CASES,
];

describe('parseSshCommand', () => {
  it('has at least 120 table cases', () => {
    expect(ALL_CASES.length).toBeGreaterThanOrEqual(120);
  });

  it.each(ALL_CASES)('%s', (_name, input, expected) => {
    const result = parseSshCommand(input);
    if ('reason' in expected) {
      expect(result).toMatchObject({ kind: 'rejected', reason: expected.reason });
    } else {
      expect(result).toEqual({ ...BASE, ...expected });
    }
  });

  it('turns an internal failure into a rejection', () => {
    const result = parseSshCommand(42 as unknown as string);
    expect(result).toMatchObject({ kind: 'rejected', reason: 'internal-error' });
  });

  it('escapes client text in the detail', () => {
    const result = parseSshCommand('borg serve \x1b[2J\u202e');
    expect(result.kind).toBe('rejected');
    const detail = result.kind === 'rejected' ? result.detail : '';
    expect(detail).toContain('\\x1b[2J\\u202e');
    expect(detail).not.toContain('\x1b');
    expect(detail).not.toContain('\u202e');
  });

  it('shortens a long detail', () => {
    const result = parseSshCommand(`borg serve --foo=${'x'.repeat(3000)}`);
    expect(result.kind === 'rejected' ? result.detail.length : 0).toBeLessThan(300);
  });

  it('names the forbidden flag in the detail', () => {
    const result = parseSshCommand('borg serve --restrict-to-path=/');
    expect(result.kind === 'rejected' ? result.detail : '').toContain('--restrict-to-path');
  });
});
