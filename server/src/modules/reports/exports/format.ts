/**
 * Export encodings: CSV (RFC 4180) and JSON Lines, one row at a time. Values are strings, numbers, booleans,
 * dates or null. CSV cells that a spreadsheet would run as a formula (=, +, -, @, tab, CR at the start of a
 * text cell, unless the text is only a number such as an E.164 phone) get a leading apostrophe: an exported
 * message body can never execute in someone's spreadsheet.
 */
export type Cell = string | number | boolean | Date | null;
export type Row = Record<string, Cell>;

export enum ExportFormat {
  CSV = 'CSV',
  JSONL = 'JSONL',
}

const FORMULA = /^[=+\-@\t\r]/;
/** A phone number or a plain number starting with + or -: data, not a formula (E.164 numbers stay as they are). */
const NUMBER_LIKE = /^[+-]?[\d .()]+$/;

function csvCell(value: Cell): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  if (typeof value !== 'string') return String(value);
  const text = FORMULA.test(value) && !NUMBER_LIKE.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export interface Encoder {
  header(): string;
  rows(rows: readonly Row[]): string;
  /** One row's text (the export job writes row by row: no page-sized string ever exists). */
  row(row: Row): string;
  contentType: string;
  extension: string;
}

export function encoderFor(format: ExportFormat, columns: readonly string[]): Encoder {
  if (format === ExportFormat.CSV) {
    return {
      contentType: 'text/csv; charset=utf-8',
      extension: 'csv',
      header: () => `${columns.map(csvCell).join(',')}\r\n`,
      rows: (rows) => rows.map((r) => `${columns.map((c) => csvCell(r[c] ?? null)).join(',')}\r\n`).join(''),
      row: (r) => `${columns.map((c) => csvCell(r[c] ?? null)).join(',')}\r\n`,
    };
  }
  return {
    contentType: 'application/x-ndjson; charset=utf-8',
    extension: 'jsonl',
    header: () => '',
    rows: (rows) => rows.map((r) => `${JSON.stringify(Object.fromEntries(columns.map((c) => [c, r[c] ?? null])))}\n`).join(''),
    row: (r) => `${JSON.stringify(Object.fromEntries(columns.map((c) => [c, r[c] ?? null])))}\n`,
  };
}
