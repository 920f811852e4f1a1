import type { Argv, CommandModule } from 'yargs';
import { DEFAULT_BLOCK_NAME } from '../lib/authorized-keys/managed-block.js';
import { type KeysArgs, reportErrors } from './keys/shared.js';

// Handlers import their modules lazily, so `--help` and unrelated verbs load no key code.

function withRenderOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('gate-path', {
      type: 'string',
      describe:
        'Absolute path of borg-gate that sshd runs in command="..." (default: the path this program was started as)',
    })
    .option('block', {
      type: 'string',
      default: DEFAULT_BLOCK_NAME,
      describe: 'Name of the managed block, for several policies in one authorized_keys file',
    });
}

function withFile<T>(yargs: Argv<T>) {
  return yargs
    .option('file', {
      type: 'string',
      describe: 'authorized_keys file (default: $BORG_GATE_AUTHORIZED_KEYS)',
    })
    .option('mode', {
      type: 'string',
      describe:
        'File mode: 0600 (default), or 0640/0644 for a root-owned file the account must read',
    });
}

const renderCommand: CommandModule<object, KeysArgs> = {
  command: 'render',
  describe: 'Print the managed authorized_keys block for the policy',
  builder: (yargs) => withRenderOptions(yargs) as Argv<KeysArgs>,
  handler: (args) => reportErrors(async () => (await import('./keys/generate.js')).runRender(args)),
};

type WriteArgs = KeysArgs & { owner?: string; index?: string; mode?: string };

const writeCommand: CommandModule<object, WriteArgs> = {
  command: 'write',
  describe: 'Replace the managed block in the authorized_keys file (atomic, keeps a .bak copy)',
  builder: (yargs) =>
    withFile(withRenderOptions(yargs))
      .option('owner', {
        type: 'string',
        describe:
          'User to own the file (default: the current owner, or the directory owner for a new file)',
      })
      .option('index', {
        type: 'string',
        describe: 'Also write a lookup index here, for "keys lookup --index" with large policies',
      }) as Argv<WriteArgs>,
  handler: (args) => reportErrors(async () => (await import('./keys/generate.js')).runWrite(args)),
};

type CheckArgs = KeysArgs & { mode?: string; owner?: string };

const checkCommand: CommandModule<object, CheckArgs> = {
  command: 'check',
  describe: 'Exit 1 and print a diff when the installed block differs from the policy',
  builder: (yargs) =>
    withFile(withRenderOptions(yargs))
      .option('owner', {
        type: 'string',
        describe: 'User that must own the file, as given to keys write --owner (default: any)',
      })
      .epilog(
        'Exit status: 0 when the managed block matches the policy, the file has the expected mode (and owner, with --owner) and every key line is inside a managed block, as an entry borg-gate writes when the block has another name. 1 when the block differs (the diff goes to stdout), the mode or owner differs, a key line is outside the managed blocks or is not such an entry in another block (each is named on stderr by line number and fingerprint), or the check failed.',
      ) as Argv<CheckArgs>,
  handler: (args) => reportErrors(async () => (await import('./keys/generate.js')).runCheck(args)),
};

interface ListArgs {
  policy?: string;
  json?: boolean;
}

const listCommand: CommandModule<object, ListArgs> = {
  command: 'list',
  describe: 'List every key in the policy with its fingerprint, expiry and status',
  builder: (yargs) =>
    yargs.option('json', { type: 'boolean', describe: 'Print JSON instead of a table' }),
  handler: (args) => reportErrors(async () => (await import('./keys/manage.js')).runList(args)),
};

interface EditArgs {
  policy?: string;
  client: string;
  key: string;
}

const clientOption = { type: 'string', demandOption: true, describe: 'Client id' } as const;
const keyOption = {
  type: 'string',
  demandOption: true,
  describe: 'Public key file (.pub), or - to read it from stdin',
  // nargs 1 makes yargs take a lone "-" as the value instead of a positional argument.
  nargs: 1,
} as const;

const addCommand: CommandModule<object, EditArgs> = {
  command: 'add',
  describe: 'Add a public key to a client in the policy (comments in the file are kept)',
  builder: (yargs) => yargs.option('client', clientOption).option('key', keyOption),
  handler: (args) => reportErrors(async () => (await import('./keys/manage.js')).runAdd(args)),
};

const removeCommand: CommandModule<
  object,
  { policy?: string; client: string; fingerprint: string }
> = {
  command: 'remove',
  describe: 'Remove a key from a client by its SHA256 fingerprint',
  builder: (yargs) =>
    yargs.option('client', clientOption).option('fingerprint', {
      type: 'string',
      demandOption: true,
      describe: 'Fingerprint as "borg-gate keys list" or "ssh-keygen -lf" prints it (SHA256:...)',
    }),
  handler: (args) => reportErrors(async () => (await import('./keys/manage.js')).runRemove(args)),
};

const rotateCommand: CommandModule<object, EditArgs & { overlap: string }> = {
  command: 'rotate',
  describe: "Add a new key and set the client's older keys to expire after the overlap",
  builder: (yargs) =>
    yargs.option('client', clientOption).option('key', keyOption).option('overlap', {
      type: 'string',
      default: '7d',
      describe: 'How long the old keys keep working: a number with s, m, h, d or w',
    }),
  handler: (args) => reportErrors(async () => (await import('./keys/manage.js')).runRotate(args)),
};

interface LookupArgs {
  args?: string[];
  policy?: string;
  'gate-path'?: string;
  user?: string;
  index?: string;
}

// sshd runs lookup through main.ts, which parses its arguments by hand. This definition serves
// `keys lookup --help` and a lookup started through the full CLI.
const lookupCommand: CommandModule<object, LookupArgs> = {
  command: 'lookup [args..]',
  describe: 'Print the authorized_keys entry for one offered key, for sshd AuthorizedKeysCommand',
  builder: (yargs) =>
    yargs
      .usage('borg-gate keys lookup [options] USER TYPE BASE64')
      .strict(false)
      .parserConfiguration({ 'unknown-options-as-args': true })
      .positional('args', {
        type: 'string',
        array: true,
        describe: 'USER TYPE BASE64: the account, key type and base64 key, as sshd passes %u %t %k',
      })
      .option('policy', {
        type: 'string',
        describe:
          'Policy file (default: /etc/borg-gate/policy.yaml; BORG_GATE_POLICY is ignored, as in serve)',
      })
      .option('gate-path', {
        type: 'string',
        describe:
          'Absolute path of borg-gate in the printed command="..." (default: the path this program was started as)',
      })
      .option('user', {
        type: 'string',
        describe: 'Print nothing when USER is another account (the backup account, e.g. borg)',
      })
      .option('index', {
        type: 'string',
        describe:
          'Lookup index written by "keys write --index"; used while it matches the policy, else the policy is read',
      })
      .epilog(
        [
          'Exit status: 0 after printing the entry of an active policy key, or nothing for any other key. 1 when the lookup failed and 2 for invalid arguments; sshd then accepts no key.',
          '',
          'In sshd_config, inside "Match User borg":',
          '  AuthorizedKeysFile none',
          '  AuthorizedKeysCommand /usr/local/bin/borg-gate keys lookup --user borg %u %t %k',
          '  AuthorizedKeysCommandUser borg-gate-lookup',
        ].join('\n'),
      ) as Argv<LookupArgs>,
  handler: async (args) => {
    const { runLookupCommand } = await import('./keys/lookup.js');
    // yargs has taken the options out of the remaining arguments, so they are passed back.
    const options: string[] = [];
    for (const name of ['policy', 'gate-path', 'user', 'index'] as const) {
      const value = args[name];
      if (typeof value === 'string') {
        options.push(`--${name}`, value);
      }
    }
    process.exitCode = await runLookupCommand([...options, ...(args.args ?? []).map(String)]);
  },
};

export const keysCommand: CommandModule<object, object> = {
  command: 'keys <command>',
  describe: 'Generate and check authorized_keys entries, and manage client keys in the policy',
  builder: (yargs: Argv) =>
    yargs
      .command(renderCommand)
      .command(writeCommand)
      .command(checkCommand)
      .command(listCommand)
      .command(addCommand)
      .command(removeCommand)
      .command(rotateCommand)
      .command(lookupCommand)
      .demandCommand(1),
  handler: () => {},
};
