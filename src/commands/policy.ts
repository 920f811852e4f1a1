import Table from 'cli-table3';
import type { Argv, CommandModule } from 'yargs';
import { AuthorizedKeysError } from '../lib/authorized-keys/errors.js';
import { collectKeyRecords } from '../lib/authorized-keys/key-records.js';
import { PublicKeyError } from '../lib/authorized-keys/public-key.js';
import { checkGrantPathsOnDisk } from '../lib/policy/disk-checks.js';
import { PolicyError } from '../lib/policy/errors.js';
import { loadPolicy, policyFileFrom } from '../lib/policy/load.js';
import { listGrants } from '../lib/policy/match.js';
import type { Client, Policy } from '../lib/policy/schema.js';

interface PolicyArgs {
  policy?: string;
  json?: boolean;
}

const checkCommand: CommandModule<object, PolicyArgs> = {
  command: 'check',
  describe: 'Validate the policy file and print a summary of every client',
  builder: (yargs) =>
    yargs.option('json', {
      type: 'boolean',
      describe: 'Print the summary as JSON instead of a table',
    }),
  handler: async (args) => {
    const file = policyFileFrom(args.policy);
    try {
      const { policy } = await loadPolicy(file);
      // Parses every key as `keys write` does, so a key the generator rejects fails here too.
      collectKeyRecords(policy, new Date(), file);
      const problems = checkGrantPathsOnDisk(policy);
      printSummary(policy, Boolean(args.json));
      for (const problem of problems) {
        process.stderr.write(`borg-gate: ${file}: ${problem}\n`);
      }
      for (const client of policy.clients) {
        if (client.repositories.length === 0 && client.paths.length === 0) {
          process.stderr.write(
            `borg-gate: ${file}: warning: client "${client.id}" has no repositories and no ` +
              'paths, so every request of its keys is refused; add one or disable the client\n',
          );
        }
      }
      process.exitCode = problems.length > 0 ? 1 : 0;
    } catch (error) {
      if (
        !(
          error instanceof PolicyError ||
          error instanceof AuthorizedKeysError ||
          error instanceof PublicKeyError
        )
      ) {
        throw error;
      }
      process.stderr.write(`borg-gate: invalid policy: ${error.message}\n`);
      process.exitCode = 1;
    }
  },
};

export const policyCommand: CommandModule<object, PolicyArgs> = {
  command: 'policy <command>',
  describe: 'Work with the policy file',
  builder: (yargs: Argv) => yargs.command(checkCommand).demandCommand(1),
  handler: () => {},
};

function printSummary(policy: Policy, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(policy.clients.map(summarizeClient), null, 2)}\n`);
    return;
  }
  const table = new Table({
    head: ['client', 'status', 'mode', 'repositories / paths', 'keys', 'from', 'expires'],
    style: { head: [], border: [] },
  });
  for (const client of policy.clients) {
    const row = summarizeClient(client);
    table.push([
      row.id,
      row.status,
      row.modes,
      row.grants.join('\n'),
      row.keys,
      row.from,
      row.expires,
    ]);
  }
  const count = policy.clients.length;
  process.stdout.write(`${table.toString()}\n${count} ${count === 1 ? 'client' : 'clients'}\n`);
}

function clientStatus(client: Client): 'disabled' | 'expired' | 'active' {
  if (client.disabled) {
    return 'disabled';
  }
  if (client.expires !== undefined && client.expires <= new Date()) {
    return 'expired';
  }
  return 'active';
}

function summarizeClient(client: Client) {
  const grants = listGrants(client);
  return {
    id: client.id,
    status: clientStatus(client),
    modes: [...new Set(grants.map((grant) => grant.mode))].join(', ') || client.mode,
    grants: grants.map(
      (grant) => `${grant.kind === 'path' ? 'path ' : ''}${grant.path} (${grant.mode})`,
    ),
    keys: client.keys.length,
    from: client.from?.join(', ') ?? 'any',
    expires: client.expires === undefined ? 'never' : formatExpiry(client.expires),
  };
}

/** Formats an expiry as its date, or as date and time in UTC when it is not at midnight. */
function formatExpiry(expires: Date): string {
  const iso = expires.toISOString();
  return iso.endsWith('T00:00:00.000Z') ? iso.slice(0, 10) : `${iso.slice(0, 19)}Z`;
}
