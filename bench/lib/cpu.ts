/** CPU time from /proc (Linux): what a benchmark phase cost each process, whatever the machine's load. */
import fs from 'node:fs';

/** CPU time (user + system, ms) process `pid` has used so far. */
export function processCpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of stat; after the command name they are at index 11 and 12.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** CPU time (ms) used so far by each live process named `postgres` (the backends of the bench's pools persist). */
export function postgresCpuMs(): Map<number, number> {
  const byPid = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (!stat.includes('(postgres)')) continue;
      byPid.set(Number(entry), processCpuMs(Number(entry)));
    } catch {
      // The process ended between readdir and read.
    }
  }
  return byPid;
}

/** Postgres CPU (ms) between two readings: processes started since count from zero, ended ones are not seen. */
export function postgresCpuSince(before: Map<number, number>): number {
  let total = 0;
  for (const [pid, ms] of postgresCpuMs()) total += ms - (before.get(pid) ?? 0);
  return total;
}
