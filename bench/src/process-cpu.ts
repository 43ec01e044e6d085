import { readdirSync, readFileSync } from 'node:fs';

/** CPU time every live thread of a process has used so far, in nanoseconds (schedstat: no tick rounding). */
export function processCpuNs(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // A thread that ended between the listing and the read used no more CPU.
    }
  }
  return total;
}
