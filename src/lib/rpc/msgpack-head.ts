/** Kind of msgpack value a head byte starts. */
export type HeadKind = 'scalar' | 'str' | 'bin' | 'ext' | 'array' | 'map' | 'reserved';

/** Decoded head of one msgpack value. */
export interface Head {
  kind: HeadKind;
  /** Bytes taken by the head, including the payload of fixed-size scalars. */
  size: number;
  /** Body bytes of a str or bin, or entry count of an array or map; 0 otherwise. */
  length: number;
}

/**
 * Returns how many bytes the head starting with `first` takes (1 to 9). Ext and the reserved
 * byte 0xc1 report 1 because callers reject them on the first byte.
 */
export function headSize(first: number): number {
  if (first <= 0xbf || first >= 0xe0) return 1;
  return HEAD_SIZES[first - 0xc0] ?? 1;
}

// Head sizes for 0xc0..0xdf: nil, reserved, false, true, bin8/16/32, ext8/16/32, float32/64,
// uint8/16/32/64, int8/16/32/64, fixext1/2/4/8/16, str8/16/32, array16/32, map16/32.
const HEAD_SIZES = [
  1, 1, 1, 1, 2, 3, 5, 1, 1, 1, 5, 9, 2, 3, 5, 9, 2, 3, 5, 9, 1, 1, 1, 1, 1, 2, 3, 5, 3, 5, 3, 5,
];

/** Reads the head at `pos`; the caller guarantees `headSize(buf[pos])` bytes are available. */
export function readHead(buf: Buffer, pos: number): Head {
  const first = buf[pos]!;
  if (first <= 0x7f || first >= 0xe0) return { kind: 'scalar', size: 1, length: 0 };
  if (first <= 0x8f) return { kind: 'map', size: 1, length: first & 0x0f };
  if (first <= 0x9f) return { kind: 'array', size: 1, length: first & 0x0f };
  if (first <= 0xbf) return { kind: 'str', size: 1, length: first & 0x1f };
  switch (first) {
    case 0xc1:
      return { kind: 'reserved', size: 1, length: 0 };
    case 0xc4:
    case 0xc5:
    case 0xc6:
      return sized('bin', buf, pos, first - 0xc4);
    case 0xc7:
    case 0xc8:
    case 0xc9:
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
      return { kind: 'ext', size: 1, length: 0 };
    case 0xd9:
    case 0xda:
    case 0xdb:
      return sized('str', buf, pos, first - 0xd9);
    case 0xdc:
    case 0xdd:
      return sized('array', buf, pos, first - 0xdc + 1);
    case 0xde:
    case 0xdf:
      return sized('map', buf, pos, first - 0xde + 1);
    default:
      return { kind: 'scalar', size: headSize(first), length: 0 };
  }
}

/** Reads a big-endian length of 1, 2 or 4 bytes (`widthIndex` 0, 1, 2) after the first byte. */
function sized(kind: HeadKind, buf: Buffer, pos: number, widthIndex: number): Head {
  if (widthIndex === 0) return { kind, size: 2, length: buf[pos + 1]! };
  if (widthIndex === 1) return { kind, size: 3, length: buf.readUInt16BE(pos + 1) };
  return { kind, size: 5, length: buf.readUInt32BE(pos + 1) };
}
