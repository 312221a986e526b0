import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

function scrypt(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** log2 of scrypt's N. 15 in production (about 100 ms here); tests lower it through setPasswordCost. */
let costLog2 = 15;
export function setPasswordCost(log2N: number): void {
  costLog2 = log2N;
}

const KEY_LENGTH = 32;

/** "scrypt$<log2N>$<r>$<p>$<salt>$<hash>": the parameters travel with the hash, so the cost can rise later. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const r = 8;
  const p = 1;
  const N = 2 ** costLog2;
  const key = await scrypt(password, salt, KEY_LENGTH, { N, r, p, maxmem: 256 * N * r });
  return ['scrypt', costLog2, r, p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  // With no stored hash, still spend the time of one check: response time must not reveal whether an account exists.
  const parts = (stored ?? DUMMY_HASH).split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, log2, r, p, salt, hash] = parts;
  const N = 2 ** Number(log2);
  const expected = Buffer.from(hash!, 'base64url');
  const actual = await scrypt(password, Buffer.from(salt!, 'base64url'), expected.length, {
    N,
    r: Number(r),
    p: Number(p),
    maxmem: 256 * N * Number(r),
  });
  return stored !== null && actual.length === expected.length && timingSafeEqual(actual, expected);
}

const DUMMY_HASH = `scrypt$15$8$1$${Buffer.alloc(16).toString('base64url')}$${Buffer.alloc(32).toString('base64url')}`;

export type TokenKind = 'session' | 'apiKey' | 'invitation' | 'passwordReset' | 'device';
const PREFIX: Record<TokenKind, string> = { session: 'sbs_', apiKey: 'sbk_', invitation: 'sbi_', passwordReset: 'sbr_', device: 'sbd_' };

/** A random bearer secret (256 bits), with a prefix that says what it is (and lets secret scanners find leaks). */
export function newToken(kind: TokenKind): string {
  return PREFIX[kind] + randomBytes(32).toString('base64url');
}

export function tokenKind(token: string): TokenKind | null {
  for (const [kind, prefix] of Object.entries(PREFIX)) if (token.startsWith(prefix)) return kind as TokenKind;
  return null;
}

/** Tokens are high-entropy, so a plain SHA-256 is the right stored form (a lookup by hash, no salt needed). */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
