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

export function planReload(current: Config, next: Config): { reload: string[]; restart: string[] } {
  const changed = changedKeys(current, next).filter((k) => k !== 'baseDir');
  const isReloadable = (k: string) => RELOADABLE.some((r) => k === r || k.startsWith(`${r}.`));
  return { reload: changed.filter(isReloadable), restart: changed.filter((k) => !isReloadable(k)) };
}
