import { inQuietHours } from './policy';

const MINUTE = 60_000;

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return h * 60 + m;
}

/** The wall-clock minute of the day (0..1439) at `now` in `timeZone`. */
function localMinute(timeZone: string, now: Date): number {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(now);
  return Number(parts.find((p) => p.type === 'hour')!.value) * 60 + Number(parts.find((p) => p.type === 'minute')!.value);
}

/**
 * When sending may resume: null outside quiet hours, else the first minute at which the workspace's local time
 * reaches the quiet hours' end. Across a daylight-saving change this may be an hour early; the sender then
 * finds itself still in quiet hours and waits again, so it never sends inside them.
 */
export function quietHoursEndAt(start: string | null, end: string | null, timeZone: string, now: Date): Date | null {
  if (!start || !end || !inQuietHours(start, end, timeZone, now)) return null;
  const minutes = (minutesOf(end) - localMinute(timeZone, now) + 1440) % 1440 || 1440;
  const atMinute = Math.floor(now.getTime() / MINUTE) * MINUTE;
  return new Date(atMinute + minutes * MINUTE);
}
