import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../src/lib/rpc/errors.js';
import {
  type FrameEvent,
  Framer,
  REPLY_LIMITS,
  REQUEST_LIMITS,
} from '../../../src/lib/rpc/framer.js';
import { request } from './fixtures/pack.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const str = (text: string) => Buffer.concat([Buffer.from([0xa0 | text.length]), Buffer.from(text)]);

function scan(chunks: Buffer[], limits = REQUEST_LIMITS): FrameEvent[] {
  const framer = new Framer(limits);
  return chunks.flatMap((chunk) => [...framer.push(chunk)]);
}

function rejection(bytes: Buffer, limits = REQUEST_LIMITS): string | undefined {
  try {
    scan([bytes], limits);
    return undefined;
  } catch (error) {
    if (error instanceof ProtocolError) return error.reason;
    throw error;
  }
}

function messageBytes(events: FrameEvent[]): Buffer {
  return Buffer.concat(events.flatMap((event) => (event.type === 'bytes' ? [event.data] : [])));
}

// borg 1.2.4 `open` as captured on the wire, with path /srv/exp/repo.
const open = hex(
  `83 a1 69 02 a1 6d a4 6f70656e a1 61 87 a4 70617468 ad 2f7372762f6578702f7265706f
   a6 637265617465 c2 a9 6c6f636b5f77616974 01 a4 6c6f636b c3 a9 6578636c7573697665 c2
   ab 617070656e645f6f6e6c79 c2 b0 6d616b655f706172656e745f64697273 c2`,
);
const negotiate = hex(
  '94 01 01 a9 6e65676f7469617465 91 81 ae 636c69656e745f76657273696f6e 94 01 02 04 ff',
);

describe('Framer valid input', () => {
  it.each([
    ['negotiate', negotiate],
    ['open', open],
    ['get', request(3, 'get', { id: Buffer.alloc(32, 1) })],
  ])('frames %s', (_name, bytes) => {
    const events = scan([bytes]);
    expect(events.at(-1)).toEqual({ type: 'end', size: bytes.length });
    expect(messageBytes(events)).toEqual(bytes);
  });

  it('frames byte by byte', () => {
    const bytes = Buffer.concat([open, negotiate]);
    const events = scan([...bytes].map((byte) => Buffer.from([byte])));
    expect(events.filter((event) => event.type === 'end')).toHaveLength(2);
    expect(messageBytes(events)).toEqual(bytes);
  });

  it('reports top-level and argument values', () => {
    const values = scan([open]).flatMap((event) => (event.type === 'value' ? [event] : []));
    expect(values.map((event) => event.path.join('.'))).toEqual([
      'i',
      'm',
      'a.path',
      'a.create',
      'a.lock_wait',
      'a.lock',
      'a.exclusive',
      'a.append_only',
      'a.make_parent_dirs',
      'a',
    ]);
    expect(values[1]?.token).toEqual(hex('a4 6f70656e'));
  });

  it('treats str8 and fixstr keys alike', () => {
    // d9 01 6d is the key "m" as str8; it duplicates the fixstr a1 6d.
    const bytes = hex('83 a1 69 01 a1 6d a3 676574 d9 01 6d a3 707574');
    expect(rejection(bytes)).toBe('duplicate map key');
  });

  it('streams a bulk string body', () => {
    const data = Buffer.alloc(100_000, 7);
    const bytes = request(4, 'put', { id: Buffer.alloc(32), data });
    const events = scan([bytes.subarray(0, 30), bytes.subarray(30, 5000), bytes.subarray(5000)]);
    const bulk = events.find((event) => event.type === 'bulk');
    expect(bulk).toEqual({ type: 'bulk', path: ['a', 'data'], length: 100_000 });
    const bulkBytes = events.flatMap((event) =>
      event.type === 'bytes' && event.bulk ? [event.data] : [],
    );
    expect(Buffer.concat(bulkBytes)).toEqual(data);
    expect(messageBytes(events)).toEqual(bytes);
  });
});

describe('Framer rejections', () => {
  const arrayOf = (count: number) =>
    Buffer.concat([hex(`dc ${count.toString(16).padStart(4, '0')}`), Buffer.alloc(count)]);
  const mapOf = (count: number) => {
    const entries = Array.from({ length: count }, (_, index) =>
      Buffer.concat([str(`k${index}`), hex('00')]),
    );
    return Buffer.concat([hex(`de ${count.toString(16).padStart(4, '0')}`), ...entries]);
  };

  it.each([
    ['bin', hex('83 a1 69 01 a1 6d c4 03 707574 a1 61 80'), 'bin value'],
    ['empty bin', hex('c4 00'), 'bin value'],
    ['fixext', hex('d4 01 00'), 'ext value'],
    ['ext8', hex('c7 01 01 00'), 'ext value'],
    ['reserved byte', hex('c1'), 'reserved msgpack byte 0xc1'],
    ['top duplicate', hex('83 a1 69 01 a1 69 02 a1 61 80'), 'duplicate map key'],
    [
      'argument duplicate',
      hex('83 a1 69 01 a1 6d a1 78 a1 61 82 a6 726570616972 c2 a6 726570616972 c3'),
      'duplicate map key',
    ],
    ['int key', hex('81 01 02'), 'map key is not a short string'],
    [
      'long key',
      Buffer.concat([hex('81 d9 41'), Buffer.alloc(65, 0x61), hex('00')]),
      'map key is not a short string',
    ],
    ['non-identifier key', hex('81 a2 2d2d 00'), 'map key is not an identifier'],
    ['array 101', arrayOf(101), 'array too long'],
    ['map 101', mapOf(101), 'map too long'],
    ['str over 20 MiB', hex('db 01400001'), 'string too long'],
    ['deep nesting', Buffer.alloc(9, 0x91), 'nesting too deep'],
  ])('rejects %s', (_name, bytes, reason) => {
    expect(rejection(bytes)).toBe(reason);
  });

  it.each([
    ['array 100', arrayOf(100)],
    ['map 100', mapOf(100)],
  ])('accepts %s', (_name, bytes) => {
    expect(rejection(bytes)).toBeUndefined();
  });

  it('rejects a message over 60 MiB', () => {
    const big = hex('db 01400000');
    const array = Buffer.concat([hex('93'), big]);
    const framer = new Framer(REQUEST_LIMITS);
    const consume = (bytes: Buffer) => [...framer.push(bytes)];
    consume(array);
    consume(Buffer.alloc(20 * 1024 * 1024));
    consume(big);
    consume(Buffer.alloc(20 * 1024 * 1024));
    expect(() => consume(big)).toThrow('message too long');
  });

  it('emits no bytes of a rejected message', () => {
    const framer = new Framer(REQUEST_LIMITS);
    const bytes = hex('83 a1 69 01 a1 6d a3 676574 a1 6d');
    const seen: Buffer[] = [];
    expect(() => {
      for (const event of framer.push(bytes)) if (event.type === 'bytes') seen.push(event.data);
    }).toThrow(ProtocolError);
    expect(Buffer.concat(seen).length).toBeLessThan(bytes.length);
  });

  it('stays failed after a rejection', () => {
    const framer = new Framer(REQUEST_LIMITS);
    expect(() => [...framer.push(hex('c1'))]).toThrow(ProtocolError);
    expect(() => [...framer.push(hex('00'))]).toThrow(ProtocolError);
  });

  it('reply limits accept long id lists', () => {
    expect(rejection(arrayOf(1000), REPLY_LIMITS)).toBeUndefined();
  });
});
