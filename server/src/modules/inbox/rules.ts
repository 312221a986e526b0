import { foldText } from './addresses';
import type { WeeklyHours } from './catalogue.entity';
import { badInput } from '../../shared/errors';

export const STOP_WORDS = new Set(['stop', 'stopall', 'unsubscribe', 'cancel', 'end', 'quit', 'optout', 'opt out', 'revoke']);
export const START_WORDS = new Set(['start', 'unstop', 'subscribe', 'yes', 'optin', 'opt in']);

export function isStopMessage(body: string): boolean {
  return STOP_WORDS.has(foldText(body).replace(/[.!]+$/, ''));
}

export function isStartMessage(body: string): boolean {
  return START_WORDS.has(foldText(body).replace(/[.!]+$/, ''));
}

/** The first phrase of a rule found in a text, comparing case- and accent-insensitively on word boundaries. */
export function matchPhrase(text: string, phrases: readonly string[]): string | null {
  const folded = ` ${foldText(text).replace(/[^\p{L}\p{N}]+/gu, ' ')} `;
  for (const phrase of phrases) {
    const p = foldText(phrase).replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
    if (p && folded.includes(` ${p} `)) return phrase;
  }
  return null;
}

const DAY_KEYS = ['0', '1', '2', '3', '4', '5', '6'];

export function validateWeeklyHours(hours: unknown): WeeklyHours {
  if (!hours || typeof hours !== 'object' || Array.isArray(hours)) throw badInput('weeklyHours is an object keyed "0" (Sunday) to "6"', { field: 'weeklyHours' });
  const out: WeeklyHours = {};
  for (const [day, intervals] of Object.entries(hours as Record<string, unknown>)) {
    if (!DAY_KEYS.includes(day)) throw badInput(`Unknown day "${day}" (use "0" for Sunday to "6")`, { field: 'weeklyHours' });
    if (!Array.isArray(intervals)) throw badInput(`Day ${day} needs a list of ["HH:MM","HH:MM"] intervals`, { field: 'weeklyHours' });
    out[day] = intervals.map((iv) => {
      if (!Array.isArray(iv) || iv.length !== 2 || !iv.every((t) => typeof t === 'string' && /^([01]\d|2[0-3]):[0-5]\d$|^24:00$/.test(t)) || iv[0] >= iv[1]) {
        throw badInput(`Day ${day}: each interval is ["HH:MM","HH:MM"] with start before end`, { field: 'weeklyHours' });
      }
      return [iv[0], iv[1]] as [string, string];
    });
  }
  return out;
}

export function validateTimeZone(tz: string): string {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return tz;
  } catch {
    throw badInput(`Unknown time zone "${tz}"`, { field: 'timeZone' });
  }
}

/** Whether a moment falls inside the weekly schedule, read in the workspace's time zone. No schedule: open. */
export function isOpenAt(hours: WeeklyHours | null, timeZone: string, at: Date): boolean {
  if (!hours) return true;
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(at);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  const day = String(['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(get('weekday')));
  const hhmm = `${get('hour')}:${get('minute')}`;
  return (hours[day] ?? []).some(([from, to]) => hhmm >= from && hhmm < to);
}

/** Fills {{contact.firstName}}-style variables; a variable without a value is an error before anything is sent. */
export function renderTemplate(body: string, values: Record<string, unknown>): string {
  const missing: string[] = [];
  const out = body.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (_m, path: string) => {
    let v: unknown = values;
    for (const k of path.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
    if (v === undefined || v === null || v === '') {
      missing.push(path);
      return '';
    }
    return String(v);
  });
  if (missing.length) throw badInput(`The template needs values for: ${[...new Set(missing)].join(', ')}`, { field: 'templateId', missing });
  return out;
}
