import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** What a daemon's log (daemon.log, written by daemon-main) says went wrong: refused handshakes by reason, warnings and errors. */
export interface LogTrouble {
  readonly refusedByReason: Readonly<Record<string, number>>;
  readonly warnings: number;
  readonly firstWarning?: string;
}

/** Reads `dir`/daemon.log (pino JSON lines); a missing log is no trouble. Warnings with an `event` in `expected` are not counted. */
export function logTrouble(dir: string, expected: readonly string[] = []): LogTrouble {
  let text = '';
  try {
    text = readFileSync(join(dir, 'daemon.log'), 'utf8');
  } catch {
    return { refusedByReason: {}, warnings: 0 };
  }
  const refusedByReason: Record<string, number> = {};
  let warnings = 0;
  let firstWarning: string | undefined;
  for (const line of text.split('\n')) {
    if (line.includes('"handshake-refused"')) {
      const reason = /"reason":"([^"]*)"/.exec(line)?.[1] ?? '?';
      refusedByReason[reason] = (refusedByReason[reason] ?? 0) + 1;
    }
    const level = Number(/"level":(\d+)/.exec(line)?.[1] ?? 0);
    if (level >= 40 && !expected.some((e) => line.includes(`"event":"${e}"`))) {
      warnings++;
      firstWarning ??= line.slice(0, 400);
    }
  }
  return { refusedByReason, warnings, firstWarning };
}

/** "bad-mac 2, cluster-unavailable 1", summed over several logs. */
export function describeRefusals(troubles: readonly LogTrouble[]): string {
  const sum = new Map<string, number>();
  for (const t of troubles) for (const [r, n] of Object.entries(t.refusedByReason)) sum.set(r, (sum.get(r) ?? 0) + n);
  return [...sum].map(([r, n]) => `${r} ${n}`).join(', ') || 'none';
}
