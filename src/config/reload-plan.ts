import type { Config } from './types.js';

/**
 * Keys SIGHUP applies to a running daemon; any other change (the ACL file's path included) is
 * reported as needing a restart. The ACL file and every certificate are always re-read. An
 * HTTP or admin listener can take new certificate files but cannot switch between HTTP and
 * HTTPS, so `http.tls` / `admin.tls` added or removed needs a restart.
 */
export const RELOADABLE = ['tcp.tls', 'http.tls.cert', 'http.tls.key', 'admin.tls.cert', 'admin.tls.key', 'log.level'] as const;

/** Dotted key paths whose values differ between two configs (Buffers compared by bytes). */
export function changedKeys(a: unknown, b: unknown, prefix = ''): string[] {
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b) ? [] : [prefix];
  const objA = typeof a === 'object' && a !== null;
  const objB = typeof b === 'object' && b !== null;
  if (!objA || !objB) return a === b ? [] : [prefix];
  const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
  const out: string[] = [];
  for (const k of keys) out.push(...changedKeys((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], prefix ? `${prefix}.${k}` : k));
  return out;
}

/**
 * What a reload does. `reload`: reloadable keys that differ from the config loaded last (they
 * are applied now). `restart`: every other key that differs from the config the daemon was
 * started with, so a change stays reported on each reload until a restart, and a change
 * reverted in the file is no longer reported (nor reported as a change back).
 */
export function planReload(current: Config, next: Config, started: Config = current): { reload: string[]; restart: string[] } {
  const isReloadable = (k: string) => RELOADABLE.some((r) => k === r || k.startsWith(`${r}.`));
  const differing = (a: Config) => changedKeys(a, next).filter((k) => k !== 'baseDir');
  return { reload: differing(current).filter(isReloadable), restart: differing(started).filter((k) => !isReloadable(k)) };
}
