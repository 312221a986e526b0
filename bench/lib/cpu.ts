/** CPU time from /proc (Linux): what a benchmark phase cost each process, whatever the machine's load. */
import fs from 'node:fs';

/** CPU time (user + system, ms) process `pid` has used so far. */
export function processCpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of stat; after the command name they are at index 11 and 12.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/**
 * CPU time (ms) of every live process named `postgres` so far, by pid (the backends of the bench's pools
 * persist); with `database`, only the backends connected to it (their title names it), not other sessions'
 * on a shared machine.
 */
export function postgresCpuByPid(database?: string): Map<number, number> {
  const byPid = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (!stat.includes('(postgres)')) continue;
      if (database && !fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(` ${database} `)) continue;
      byPid.set(Number(entry), processCpuMs(Number(entry)));
    } catch {
      // The process ended between readdir and read.
    }
  }
  return byPid;
}

/** CPU time (ms) every live process named `postgres` has used so far (the backends of the bench's pools persist). */
export function postgresCpuMs(database?: string): number {
  let total = 0;
  for (const ms of postgresCpuByPid(database).values()) total += ms;
  return total;
}

/**
 * Postgres CPU (ms) between two postgresCpuByPid snapshots: per backend alive at the end (a backend that ended
 * meanwhile drops out rather than making the sum negative; one that started counts whole).
 */
export function postgresCpuSince(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, ms] of after) total += ms - (before.get(pid) ?? 0);
  return total;
}
