import { describe, expect, it } from 'vitest';
import { encoderFor, ExportFormat } from '../../server/src/modules/reports/exports/format';
import { decryptSecret, encryptSecret } from '../../server/src/modules/reports/exports/secrets';
import { randomBytes } from 'node:crypto';

describe('export encodings', () => {
  const columns = ['name', 'n', 'at', 'none'];
  const row = { name: 'Pat, "the" pal\nline two', n: -3, at: new Date('2026-11-30T12:00:00.000Z'), none: null };

  it('writes RFC 4180 CSV: quoted commas, doubled quotes, CRLF rows, empty nulls', () => {
    const csv = encoderFor(ExportFormat.CSV, columns);
    expect(csv.header()).toBe('name,n,at,none\r\n');
    expect(csv.row(row)).toBe('"Pat, ""the"" pal\nline two",-3,2026-11-30T12:00:00.000Z,\r\n');
  });

  it('neutralises text a spreadsheet would run as a formula (numbers stay numbers)', () => {
    const csv = encoderFor(ExportFormat.CSV, ['body']);
    for (const body of ['=HYPERLINK("http://evil","x")', '+1+1', '-2+3', '@SUM(A1)', '\tx']) {
      expect(csv.row({ body }).startsWith(`'`) || csv.row({ body }).startsWith(`"'`)).toBe(true);
    }
    expect(csv.row({ body: -5 })).toBe('-5\r\n');
    // A phone number is data: it keeps its plus.
    expect(csv.row({ body: '+15553000001' })).toBe('+15553000001\r\n');
  });

  it('writes JSON Lines with the columns in order', () => {
    const jsonl = encoderFor(ExportFormat.JSONL, columns);
    expect(jsonl.header()).toBe('');
    const line = jsonl.row(row);
    expect(line.endsWith('\n')).toBe(true);
    expect(Object.keys(JSON.parse(line))).toEqual(columns);
    expect(JSON.parse(line)).toMatchObject({ name: row.name, n: -3, at: '2026-11-30T12:00:00.000Z', none: null });
  });
});

describe('destination secrets', () => {
  it('round-trips under its key, with a fresh nonce each time, and refuses another key', () => {
    const key = randomBytes(32).toString('base64');
    const a = encryptSecret('wJalrXUtnFEMI/K7MDENG', key);
    const b = encryptSecret('wJalrXUtnFEMI/K7MDENG', key);
    expect(a).not.toBe(b);
    expect(a).not.toContain('wJalr');
    expect(decryptSecret(a, key)).toBe('wJalrXUtnFEMI/K7MDENG');
    expect(() => decryptSecret(a, randomBytes(32).toString('base64'))).toThrow();
  });
});
