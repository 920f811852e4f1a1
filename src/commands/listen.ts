import type { CommandModule } from 'yargs';
import { LISTEN_DEFAULTS, type ListenConfig } from '../lib/listen/config.js';
import { DEFAULT_AUDIT_LOG } from '../lib/policy/policy-file.js';

interface ListenArgs {
  port: number;
  address: string;
  'host-key': string;
  policy?: string;
  'audit-log': string;
  'log-file'?: string;
  'max-connections': number;
  'max-unauthenticated': number;
  'auth-timeout': number;
  'max-auth-failures': number;
  'auth-failure-refill': number;
  'shutdown-timeout': number;
}

/** `borg-gate listen`: an SSH server of its own that runs `serve` for every exec request. */
export const listenCommand: CommandModule<object, ListenArgs> = {
  command: 'listen',
  describe: 'Run an SSH server that accepts only borg serve requests (no OpenSSH needed)',
  builder: (yargs) =>
    yargs
      .usage(
        [
          '$0 listen --port PORT [--address ADDRESS] [--host-key FILE] [--policy FILE]',
          '',
          'Accepts SSH connections with public keys from the policy, and for every exec request',
          'applies the same checks, refusals and audit records as `borg-gate serve` under sshd.',
          'Shells, terminals, subsystems (sftp), environment variables and forwarding are refused.',
          'Service events are logged as JSON lines on stderr or to --log-file. SIGTERM stops',
          'accepting, lets sessions finish for --shutdown-timeout seconds, then stops borg.',
        ].join('\n'),
      )
      .option('port', {
        type: 'number',
        demandOption: true,
        describe: 'TCP port to listen on (0: any free port)',
      })
      .option('address', {
        type: 'string',
        default: LISTEN_DEFAULTS.address,
        describe: 'Address to listen on',
      })
      .option('host-key', {
        type: 'string',
        default: LISTEN_DEFAULTS.hostKeyFile,
        describe:
          'Host private key; an Ed25519 key is generated (mode 0600) if the file is missing',
      })
      .option('audit-log', {
        type: 'string',
        default: DEFAULT_AUDIT_LOG,
        describe: 'Audit log for sessions refused because the policy cannot be loaded',
      })
      .option('log-file', {
        type: 'string',
        describe: 'Append service log records here instead of stderr',
      })
      .option('max-connections', {
        type: 'number',
        default: LISTEN_DEFAULTS.maxConnections,
        describe: 'Open connections at most',
      })
      .option('max-unauthenticated', {
        type: 'number',
        default: LISTEN_DEFAULTS.maxUnauthenticatedPerSource,
        describe: 'Connections not yet authenticated, per source address (IPv6: per /64)',
      })
      .option('auth-timeout', {
        type: 'number',
        default: LISTEN_DEFAULTS.authTimeoutMs / 1000,
        describe: 'Seconds a connection has to authenticate',
      })
      .option('max-auth-failures', {
        type: 'number',
        default: LISTEN_DEFAULTS.authFailureBurst,
        describe: 'Failed logins per source address before it is blocked',
      })
      .option('auth-failure-refill', {
        type: 'number',
        default: LISTEN_DEFAULTS.authFailureRefillMs / 1000,
        describe: 'Seconds after which a blocked source may fail one more login',
      })
      .option('shutdown-timeout', {
        type: 'number',
        default: LISTEN_DEFAULTS.shutdownTimeoutMs / 1000,
        describe: 'Seconds running sessions get after SIGTERM before borg is stopped',
      })
      .check((args) => {
        const port = args.port;
        if (!Number.isInteger(port) || port < 0 || port > 65535) {
          throw new Error(`--port ${String(port)} is not a TCP port; use 0 to 65535`);
        }
        return true;
      }),
  handler: async (args) => {
    const { runListen } = await import('../lib/listen/run.js');
    process.exitCode = await runListen(configFrom(args), args['log-file']);
  },
};

function configFrom(args: ListenArgs): ListenConfig {
  return {
    ...LISTEN_DEFAULTS,
    address: args.address,
    port: args.port,
    hostKeyFile: args['host-key'],
    policyFile: args.policy ?? process.env.BORG_GATE_POLICY ?? '/etc/borg-gate/policy.yaml',
    fallbackAuditLog: args['audit-log'],
    maxConnections: args['max-connections'],
    maxUnauthenticatedPerSource: args['max-unauthenticated'],
    authTimeoutMs: args['auth-timeout'] * 1000,
    authFailureBurst: args['max-auth-failures'],
    authFailureRefillMs: args['auth-failure-refill'] * 1000,
    shutdownTimeoutMs: args['shutdown-timeout'] * 1000,
  };
}
