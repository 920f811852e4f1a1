import { decode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import {
  encodeErrorReply,
  encodeNegotiateReply,
  encodeNilResultReply,
} from '../../../src/lib/rpc/replies.js';

describe('replies', () => {
  it('negotiate reply matches borg 1.2.4 bytes', () => {
    // Captured from `borg serve` 1.2.4: [1, 1, nil, {server_version: (1, 2, 4, -1)}].
    const borg = Buffer.from('940101c081ae7365727665725f76657273696f6e94010204ff', 'hex');
    expect(encodeNegotiateReply(1)).toEqual(borg);
  });

  it('negotiate reply carries the version', () => {
    expect(decode(encodeNegotiateReply(7, [1, 4, 3, -1]))).toEqual([
      1,
      7,
      null,
      { server_version: [1, 4, 3, -1] },
    ]);
  });

  it('error reply uses str, never bin', () => {
    const reply = encodeErrorReply(300, 'AccessDenied', 'x'.repeat(40));
    // Without rawStrings the library returns str as string and bin as Uint8Array.
    expect(decode(reply)).toEqual({
      i: 300,
      exception_class: 'AccessDenied',
      exception_args: ['x'.repeat(40)],
      exception_short: ['x'.repeat(40)],
      exception_full: ['x'.repeat(40)],
      exception_trace: false,
      sysinfo: '',
    });
  });

  it('nil result reply', () => {
    expect(encodeNilResultReply(5)).toEqual(Buffer.from('82a16905a172c0', 'hex'));
  });
});
