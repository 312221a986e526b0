import { badInput } from '../../shared/errors';

/** Idempotency keys as sendMessage takes them: 8 to 200 letters, digits, _ . : - (one caller's own). */
export function idempotencyKey(key: string | null | undefined): string | null {
  if (key === null || key === undefined) return null;
  if (!/^[\w.:-]{8,200}$/.test(key)) throw badInput('idempotencyKey: 8 to 200 letters, digits, _ . : -', { field: 'idempotencyKey' });
  return key;
}

/** Trimmed text of 1..max characters, or BAD_USER_INPUT naming the field. */
export function text(value: string | null | undefined, field: string, max: number, opts: { optional?: boolean } = {}): string | null {
  const v = (value ?? '').trim();
  if (!v) {
    if (opts.optional) return null;
    throw badInput(`${field} is required`, { field });
  }
  if (v.length > max) throw badInput(`${field} has at most ${max} characters`, { field });
  return v;
}
