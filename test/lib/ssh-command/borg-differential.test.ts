import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseBorgSize } from '../../../src/lib/borg-args/size.js';
import { toCanonicalWords } from '../../../src/lib/ssh-command/canonical.js';
import { parseSshCommand } from '../../../src/lib/ssh-command/parse.js';
import type { ServeRequest } from '../../../src/lib/ssh-command/types.js';

/**
 * Parses each command with the installed borg 1.2. `forced` runs the path `borg serve` as a
 * forced command takes for SSH_ORIGINAL_COMMAND (`Archiver.get_args`). `values` parses the
 * client words alone, dropping leading `NAME=value` words as get_args does, to read every
 * option's value. Each parse builds borg's whole argparse parser, so the sample counts
 * stay small.
 */
const BORG_PARSE_SCRIPT = `
import contextlib, io, itertools, json, shlex, sys
from borg.archiver import Archiver
out = []
for command in json.load(sys.stdin):
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            if sys.argv[1] == 'forced':
                args = Archiver().get_args(['borg', 'serve'], command)
            else:
                words = list(itertools.dropwhile(lambda w: '=' in w, shlex.split(command)))
                args = Archiver().parse_args(words[1:])
    except SystemExit as error:
        out.append({'exit': error.code})
        continue
    if sys.argv[1] == 'forced':
        out.append({'func': args.func.__name__})
        continue
    out.append({'func': args.func.__name__, 'log_level': args.log_level,
                'debug_topics': args.debug_topics, 'log_json': args.log_json,
                'lock_wait': args.lock_wait, 'umask': args.umask,
                'storage_quota': args.storage_quota})
print(json.dumps(out))
`;

interface BorgParse {
  exit?: number;
  func?: string;
  log_level?: string;
  debug_topics?: string[];
  log_json?: boolean;
  lock_wait?: number;
  umask?: number;
  storage_quota?: number | null;
}

function parseWithBorg(mode: 'forced' | 'values', commands: string[]): BorgParse[] {
  const output = execFileSync('/usr/bin/python3', ['-c', BORG_PARSE_SCRIPT, mode], {
    input: JSON.stringify(commands),
    cwd: tmpdir(),
    env: { PATH: '/usr/bin:/bin', HOME: tmpdir() },
  });
  return JSON.parse(output.toString()) as BorgParse[];
}

/** Returns the values borg 1.2 stores for a request, with borg's defaults for absent options. */
function expectedBorgParse(request: ServeRequest): BorgParse {
  return {
    func: 'do_serve',
    log_level: request.logLevel ?? 'warning',
    debug_topics: request.debugTopics,
    log_json: request.logJson,
    lock_wait: request.lockWait ?? 1,
    umask: Number.parseInt(request.umask ?? '077', 8),
    storage_quota: request.storageQuota === undefined ? null : parseBorgSize(request.storageQuota),
  };
}

const corpus = JSON.parse(
  readFileSync(new URL('../../fixtures/hostile-commands.json', import.meta.url), 'utf8'),
) as { cases: { command: string }[] };

const request = fc.record({
  kind: fc.constant('borg-serve' as const),
  program: fc.constantFrom('borg', '/usr/bin/borg'),
  logLevel: fc.option(fc.constantFrom('debug', 'info', 'warning', 'error', 'critical'), {
    nil: undefined,
  }),
  debugTopics: fc.array(fc.stringMatching(/^[A-Za-z0-9_.]{1,20}$/), { maxLength: 3 }),
  logJson: fc.boolean(),
  lockWait: fc.option(fc.integer({ min: 0, max: 86_400 }), { nil: undefined }),
  umask: fc.option(fc.stringMatching(/^[0-7]{1,4}$/), { nil: undefined }),
  storageQuota: fc.option(fc.constantFrom('10M', '1.5T', '500G', '10000000', '0.01G'), {
    nil: undefined,
  }),
});

const acceptedCorpus = corpus.cases.flatMap((entry) => {
  const result = parseSshCommand(entry.command);
  return result.kind === 'borg-serve' ? [{ command: entry.command, result }] : [];
});

describe('parser against borg 1.2 argparse', () => {
  it('has accepted corpus commands', () => {
    expect(acceptedCorpus.length).toBeGreaterThanOrEqual(15);
  });

  it('forced serve accepts corpus commands', () => {
    const borg = parseWithBorg(
      'forced',
      acceptedCorpus.map((entry) => entry.command),
    );
    for (const [index, entry] of acceptedCorpus.entries()) {
      expect(borg[index], entry.command).toEqual({ func: 'do_serve' });
    }
  });

  it('agrees on corpus values', () => {
    const borg = parseWithBorg(
      'values',
      acceptedCorpus.map((entry) => entry.command),
    );
    for (const [index, entry] of acceptedCorpus.entries()) {
      expect(borg[index], entry.command).toEqual(expectedBorgParse(entry.result));
    }
  });

  it('agrees on canonical requests', () => {
    const requests = fc.sample(request, 50);
    const commands = requests.map((sample) => toCanonicalWords(sample).join(' '));
    const borg = parseWithBorg('values', commands);
    for (const [index, sample] of requests.entries()) {
      expect(parseSshCommand(commands[index])).toEqual(sample);
      expect(borg[index], commands[index]).toEqual(expectedBorgParse(sample));
    }
  });

  it('borg rejects an unknown flag', () => {
    expect(parseWithBorg('forced', ['borg serve --bogus'])).toEqual([{ exit: 2 }]);
  });
});
