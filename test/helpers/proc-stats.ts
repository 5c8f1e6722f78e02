import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** Resident set size of process `pid` in KiB (VmRSS of /proc/<pid>/status), or undefined once it is gone. */
export function rssKiB(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** What process `pid` holds open: the targets of /proc/<pid>/fd ('socket:[123]', '/dev/null', 'anon_inode:[eventfd]'...). */
export function openFds(pid: number): string[] {
  const dir = `/proc/${pid}/fd`;
  const out: string[] = [];
  for (const fd of readdirSync(dir)) {
    try {
      out.push(readlinkSync(`${dir}/${fd}`));
    } catch {
      // closed between the listing and the read
    }
  }
  return out;
}

/** The kinds of descriptors in `fds` with their counts ('socket', 'anon_inode:[eventfd]', 'pipe', files by path): a failure's detail. */
export function fdKinds(fds: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of fds) {
    const kind = f.replace(/:\[\d+\]$/, '');
    out[kind] = (out[kind] ?? 0) + 1;
  }
  return out;
}
