/** The checksums computed in JS (Ogg CRC-32, FLAC CRC-8 and CRC-16), and the count of bytes they ran over. */

function crcTable(poly: number, width: 8 | 16 | 32): Uint32Array {
  const top = 2 ** (width - 1);
  const mask = 2 ** width - 1;
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i * 2 ** (width - 8);
    for (let k = 0; k < 8; k++) r = r >= top ? (((r - top) * 2) ^ poly) >>> 0 : r * 2;
    t[i] = r & mask;
  }
  return t;
}
// Ogg: CRC-32 poly 0x04C11DB7, MSB first, init 0; FLAC: CRC-8 poly 0x07 and CRC-16 poly 0x8005.
const OGG_CRC = crcTable(0x04c11db7, 32);
const CRC8 = crcTable(0x07, 8);
const CRC16 = crcTable(0x8005, 16);

/**
 * Bytes run through a checksum computed in JS (the Ogg CRC-32, the FLAC CRC-8 and CRC-16) since the
 * process started. The tests read it to hold checkOgg and checkFlac to O(headers + tail): checking a
 * 64 MB stream must not cost 64 MB of JS checksum.
 */
export const jsChecksummedBytes = { count: 0 };

export function oggCrc(b: Buffer, from: number, to: number, crcAt: number): number {
  jsChecksummedBytes.count += to - from;
  let c = 0;
  for (let i = from; i < to; i++) {
    const byte = i >= crcAt && i < crcAt + 4 ? 0 : b[i]!;
    c = ((c << 8) ^ OGG_CRC[((c >>> 24) ^ byte) & 0xff]!) >>> 0;
  }
  return c;
}

export function crc8(b: Buffer, from: number, to: number): number {
  jsChecksummedBytes.count += to - from;
  let c = 0;
  for (let i = from; i < to; i++) c = CRC8[c ^ b[i]!]!;
  return c;
}

export function crc16(b: Buffer, from: number, to: number): number {
  jsChecksummedBytes.count += to - from;
  let c = 0;
  for (let i = from; i < to; i++) c = ((c << 8) ^ CRC16[(c >> 8) ^ b[i]!]!) & 0xffff;
  return c;
}

/** a·b modulo the CRC-16 polynomial x¹⁶ + x¹⁵ + x² + 1 (polynomials over GF(2), 16-bit values). */
function crc16MulMod(a: number, b: number): number {
  let r = 0;
  for (let bit = 0x8000; bit > 0; bit >>= 1) {
    r = r & 0x8000 ? ((r << 1) ^ 0x8005) & 0xffff : (r << 1) & 0xffff;
    if (b & bit) r ^= a;
  }
  return r;
}

/**
 * The CRC-16 register `crc` carried on through `n` zero bytes (crc · x^8n mod the polynomial), in
 * O(log n) steps. The FLAC CRC-16 (init 0, no final XOR) is linear, so the CRC of A followed by B is
 * crc16Shift(crc(A), |B|) ^ crc(B): the CRC from an earlier candidate header to the end reuses the
 * one from the later candidate instead of running over its bytes again.
 */
export function crc16Shift(crc: number, n: number): number {
  let power = 0x100; // x^8: one zero byte
  for (; n > 0 && crc !== 0; n = Math.floor(n / 2)) {
    if (n % 2 === 1) crc = crc16MulMod(crc, power);
    power = crc16MulMod(power, power);
  }
  return crc;
}
