import { createHash, randomBytes } from 'node:crypto';

/**
 * The hex SHA-256 of a secret (what is stored of API keys and callback tokens, never the secret
 * itself) or of bytes (a checksum).
 */
export function sha256Hex(value: string | Uint8Array): string {
  return createHash('sha256').update(value).digest('hex');
}

/** `bytes` random bytes, base64url: API keys and callback tokens. */
export function generateSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
