import { readFileSync } from 'node:fs';

/**
 * The soft limit on open files (Linux: /proc/self/limits), or undefined elsewhere. Running out
 * of descriptors is invisible to the daemon (libuv closes the pending clients itself), so the
 * start warns when the limit cannot hold `tcp.maxConnections`.
 */
export function openFilesLimit(procLimits = '/proc/self/limits'): number | undefined {
  try {
    const line = readFileSync(procLimits, 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || soft === 'unlimited' ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}
