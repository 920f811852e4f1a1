// Types for the key parser module inside ssh2, imported directly so callers skip loading
// ssh2's client and server code. Its parseKey is the function ssh2 re-exports as utils.parseKey.
declare module 'ssh2/lib/protocol/keyParser.js' {
  import type { ParsedKey } from 'ssh2';

  const keyParser: {
    parseKey(data: string | Buffer, passphrase?: string | Buffer): ParsedKey | Error;
  };
  export default keyParser;
}
