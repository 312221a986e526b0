import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Export destination secrets (an S3 secret access key) must be usable again, so they are encrypted rather than
 * hashed (identity/secrets.ts hashes what only has to be compared): AES-256-GCM under EXPORT_SECRETS_KEY, a
 * fresh 96-bit nonce each time, stored as "v1.<nonce>.<tag>.<ciphertext>" (base64url). The API never returns
 * them; only the upload decrypts one, in memory, for one client.
 */
export function encryptSecret(plain: string, keyBase64: string): string {
  const key = Buffer.from(keyBase64, 'base64');
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
}

export function decryptSecret(stored: string, keyBase64: string): string {
  const [version, iv, tag, body] = stored.split('.');
  if (version !== 'v1' || !iv || !tag || body === undefined) throw new Error('unknown secret format');
  const decipher = createDecipheriv('aes-256-gcm', Buffer.from(keyBase64, 'base64'), Buffer.from(iv, 'base64url'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
}
