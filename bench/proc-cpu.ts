import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** CPU time from /proc, in seconds: the whole machine's, and one process's own and its reaped children's. */

/** Clock ticks per second of /proc's counters (`getconf CLK_TCK`; 100 on every Linux we run on). */
export function clockTicks(): number {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isInteger(n) && n > 0 ? n : 100;
}

export interface MachineCpu {
  /** Seconds of CPU time spent busy (not idle, not waiting on I/O), summed over all cores. */
  busyS: number;
  /** Seconds of CPU time in all, summed over all cores. */
  totalS: number;
  cores: number;
}

/** The `cpu` line of /proc/stat: user nice system idle iowait irq softirq steal (guest is inside user). */
export function machineCpu(ticks: number, stat = readFileSync('/proc/stat', 'utf8')): MachineCpu {
  const lines = stat.split('\n');
  const all = (lines.find((l) => l.startsWith('cpu ')) ?? '').trim().split(/\s+/).slice(1, 9).map(Number);
  const total = all.reduce((a, b) => a + b, 0);
  const idle = (all[3] ?? 0) + (all[4] ?? 0);
  const cores = lines.filter((l) => /^cpu\d+ /.test(l)).length;
  return { busyS: (total - idle) / ticks, totalS: total / ticks, cores };
}

export interface ProcessCpu {
  /** user + system time of the process itself (all its threads). */
  selfS: number;
  /** user + system time of its children that have exited and been waited for. */
  childrenS: number;
}

/** utime stime cutime cstime of /proc/PID/stat; undefined once the process is gone. */
export function processCpu(pid: number, ticks: number): ProcessCpu | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // Fields after "(comm)": state is field 3, utime 14, stime 15, cutime 16, cstime 17.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const [utime, stime, cutime, cstime] = [f[11], f[12], f[13], f[14]].map(Number);
  return { selfS: (utime + stime) / ticks, childrenS: (cutime + cstime) / ticks };
}

/** A process's arguments (/proc/PID/cmdline); undefined once it is gone. */
export function processArgs(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
  } catch {
    return undefined;
  }
}
