/** Reads and writes the SSH wire encoding (RFC 4251 section 5) used inside public key blobs. */

export class WireFormatError extends Error {
  override name = 'WireFormatError';
}

export class WireReader {
  private offset = 0;

  constructor(private readonly buffer: Buffer) {}

  /** Reads one `string` field: a uint32 length followed by that many bytes. */
  readString(field: string): Buffer {
    if (this.offset + 4 > this.buffer.length) {
      throw new WireFormatError(`blob ends before the length of ${field}`);
    }
    const length = this.buffer.readUInt32BE(this.offset);
    const start = this.offset + 4;
    if (start + length > this.buffer.length) {
      throw new WireFormatError(`blob ends inside ${field} (${length} bytes announced)`);
    }
    this.offset = start + length;
    return this.buffer.subarray(start, start + length);
  }

  readText(field: string): string {
    return this.readString(field).toString('latin1');
  }

  /** Reads a non-negative `mpint`, rejecting the non-minimal encodings that make two blobs name one key. */
  readPositiveMpint(field: string): bigint {
    const bytes = this.readString(field);
    if (bytes.length === 0) {
      return 0n;
    }
    if ((bytes[0]! & 0x80) !== 0) {
      throw new WireFormatError(`${field} is negative`);
    }
    if (bytes[0] === 0 && (bytes.length === 1 || (bytes[1]! & 0x80) === 0)) {
      throw new WireFormatError(`${field} has a superfluous leading zero byte`);
    }
    return BigInt(`0x${bytes.toString('hex')}`);
  }

  /** Fails when bytes follow the last field, so appended data cannot ride along with a valid key. */
  expectEnd(): void {
    if (this.offset !== this.buffer.length) {
      throw new WireFormatError(
        `${this.buffer.length - this.offset} unexpected bytes after the key`,
      );
    }
  }
}

export function encodeString(value: Buffer | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

export function encodeMpint(value: bigint): Buffer {
  if (value === 0n) {
    return encodeString(Buffer.alloc(0));
  }
  let hex = value.toString(16);
  if (hex.length % 2 === 1) {
    hex = `0${hex}`;
  }
  let bytes = Buffer.from(hex, 'hex');
  if ((bytes[0]! & 0x80) !== 0) {
    bytes = Buffer.concat([Buffer.from([0]), bytes]);
  }
  return encodeString(bytes);
}
