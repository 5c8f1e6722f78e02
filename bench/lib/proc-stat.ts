/**
 * CPU time and RSS of any process from /proc, so the peer brokers (nats-server, mosquitto) are
 * measured the same way whatever language they are written in. Linux only.
 */
import { readFileSync } from 'node:fs';

/** USER_HZ: /proc/<pid>/stat counts CPU in clock ticks of 1/100 s on every Linux Node runs on. */
const TICK_MICROS = 10_000;

/** utime + stime of `pid`, in µs (10 ms resolution). */
export function procCpuMicros(pid: number): number {
  const [user, system] = procCpuSplitMicros(pid);
  return user + system;
}

/** [utime, stime] of `pid`, in µs (10 ms resolution). */
export function procCpuSplitMicros(pid: number): [number, number] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may hold spaces: count fields after its ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return [Number(fields[11]) * TICK_MICROS, Number(fields[12]) * TICK_MICROS];
}

/** VmRSS of `pid`, in bytes. */
export function procRssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}
