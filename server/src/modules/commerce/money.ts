import { badInput } from '../../shared/errors';

/**
 * Money is an integer count of the currency's minor units (cents, yen, fils) in a JS number that stays within
 * Number.MAX_SAFE_INTEGER; sums go through BigInt, so no floating point ever touches an amount.
 */

const ISO_4217: ReadonlySet<string> = new Set(Intl.supportedValuesOf('currency'));

/** An ISO 4217 code known to the runtime's ICU data, upper-cased; anything else is BAD_USER_INPUT. */
export function currencyCode(value: string, field = 'currency'): string {
  const code = value.trim().toUpperCase();
  if (!/^[A-Z]{3}$/.test(code) || !ISO_4217.has(code)) throw badInput(`${value} is not an ISO 4217 currency code`, { field });
  return code;
}

/** A non-negative amount in minor units (0 allowed for prices; payments ask for positive). */
export function minorUnits(value: number, field: string, opts: { positive?: boolean } = {}): number {
  if (!Number.isSafeInteger(value) || value < 0 || (opts.positive && value === 0)) {
    throw badInput(`${field} is an integer number of minor units${opts.positive ? ' above 0' : ''}`, { field });
  }
  return value;
}

/** Exact sum of quantity x unit price over lines; BAD_USER_INPUT when it leaves the safe integer range. */
export function lineTotal(quantity: number, unitAmount: number): bigint {
  return BigInt(quantity) * BigInt(unitAmount);
}

export function toSafeAmount(total: bigint, field = 'total'): number {
  if (total > BigInt(Number.MAX_SAFE_INTEGER)) throw badInput(`The ${field} is too large`, { field });
  return Number(total);
}

/** Digits after the decimal point for a currency (2 for USD, 0 for JPY, 3 for BHD). */
export function minorDigits(currency: string): number {
  return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
}

/** "USD 12.50" from 1250 minor units, by string arithmetic (no floating point). */
export function formatMoney(amount: number, currency: string): string {
  const digits = minorDigits(currency);
  const s = String(amount).padStart(digits + 1, '0');
  const whole = digits ? s.slice(0, -digits) : s;
  return digits ? `${currency} ${whole}.${s.slice(-digits)}` : `${currency} ${whole}`;
}

/** An http(s) URL of at most 2000 characters (product images, payment proofs), or BAD_USER_INPUT. */
export function httpUrl(value: string, field: string): string {
  const v = value.trim();
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw badInput(`${field} is not a URL`, { field });
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || v.length > 2000 || !url.hostname) {
    throw badInput(`${field} must be an http(s) URL of at most 2000 characters`, { field });
  }
  return url.toString();
}
