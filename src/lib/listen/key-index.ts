import { stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { keyIdentity } from '../policy/cross-checks.js';
import { loadPolicy } from '../policy/load.js';
import type { Policy } from '../policy/schema.js';

/**
 * Maps each public key in the policy (`type base64`, as authorizeClient compares it) to its client
 * id. The policy is re-read when its file changes, as sshd re-reads authorized_keys on each login.
 */
export class PolicyKeyIndex {
  private clientsByKey = new Map<string, string>();
  private loadedVersion: string | undefined;
  private loaded = false;

  constructor(
    private readonly policyFile: string,
    private readonly log: Logger,
  ) {}

  /** Loads the policy; throws PolicyError so a server does not start with an unusable one. */
  async load(): Promise<void> {
    const { policy } = await loadPolicy(this.policyFile);
    this.replace(policy, await this.fileVersion());
  }

  /** Returns the client id whose keys contain `type base64`, re-reading a changed policy first. */
  async lookup(identity: string): Promise<string | undefined> {
    await this.refresh();
    return this.clientsByKey.get(identity);
  }

  get size(): number {
    return this.clientsByKey.size;
  }

  /**
   * Re-reads the policy when the file changed. An invalid new version keeps the last valid keys,
   * which matches sshd with a stale authorized_keys: the login succeeds, and runServe then refuses
   * the session as policy-unavailable and records it in the fallback audit log.
   */
  private async refresh(): Promise<void> {
    let version: string;
    try {
      version = await this.fileVersion();
    } catch (error) {
      this.log.error(
        { event: 'policy_unavailable', policy_file: this.policyFile, err: error },
        'policy file cannot be read; keeping the last valid keys',
      );
      return;
    }
    if (this.loaded && version === this.loadedVersion) {
      return;
    }
    try {
      const { policy } = await loadPolicy(this.policyFile);
      this.replace(policy, version);
      this.log.info(
        { event: 'policy_reloaded', policy_file: this.policyFile, keys: this.size },
        'policy reloaded',
      );
    } catch (error) {
      // Remember the broken version so it is reported once, not on every login.
      this.loadedVersion = version;
      this.log.error(
        { event: 'policy_unavailable', policy_file: this.policyFile, err: error },
        'policy is invalid; keeping the last valid keys',
      );
    }
  }

  private replace(policy: Policy, version: string): void {
    const index = new Map<string, string>();
    for (const client of policy.clients) {
      for (const entry of client.keys) {
        index.set(keyIdentity(typeof entry === 'string' ? entry : entry.key), client.id);
      }
    }
    this.clientsByKey = index;
    this.loadedVersion = version;
    this.loaded = true;
  }

  private async fileVersion(): Promise<string> {
    const info = await stat(this.policyFile);
    return `${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
  }
}
