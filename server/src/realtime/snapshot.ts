import type { LoggedEvent } from './events';

/**
 * Whether a committed event's transaction is visible in a Postgres snapshot (`pg_current_snapshot()::text`,
 * "xmin:xmax:xip,..."): state read in that snapshot already reflects it. Below xmin: committed before it;
 * at or above xmax, or in the in-progress list: committed after it.
 */
export function seenBySnapshot(snapshot: string): (event: Pick<LoggedEvent, 'xid'>) => boolean {
  const [xminText, xmaxText, xipText = ''] = snapshot.split(':');
  const xmin = BigInt(xminText!);
  const xmax = BigInt(xmaxText!);
  const inProgress = new Set(xipText.split(',').filter(Boolean));
  return (event) => {
    const xid = BigInt(event.xid);
    if (xid < xmin) return true;
    if (xid >= xmax) return false;
    return !inProgress.has(String(xid));
  };
}
