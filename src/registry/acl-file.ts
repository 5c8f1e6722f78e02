import { open, readdir, rename, mkdir, unlink } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { AclEntry } from '../protocol/index.js';
import { locateJsonError } from './json-error-position.js';

/**
 * The persisted ACL: `{"UID": {"GroupName": "...", "AuthKey": "32 hex"}}`.
 * Parsing problems are returned with the UID they concern, never thrown half-way.
 */
export function parseAclJson(text: string): { entries: AclEntry[] } | { error: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    const at = locateJsonError(text);
    return { error: at ? `not valid JSON at line ${at.line}, column ${at.column}: ${at.message}` : `not valid JSON: ${(err as Error).message}` };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { error: 'the ACL file must hold one JSON object keyed by UID' };
  const entries: AclEntry[] = [];
  for (const [uid, v] of Object.entries(doc as Record<string, unknown>)) {
    const rec = v as { GroupName?: unknown; AuthKey?: unknown } | null;
    if (typeof rec !== 'object' || rec === null) return { error: `UID ${JSON.stringify(uid)}: value must be an object` };
    if (typeof rec.GroupName !== 'string') return { error: `UID ${JSON.stringify(uid)}: GroupName must be a string` };
    if (typeof rec.AuthKey !== 'string' || !/^[0-9a-fA-F]{32}$/.test(rec.AuthKey)) {
      return { error: `UID ${JSON.stringify(uid)}: AuthKey must be 32 hex digits` };
    }
    entries.push({ uid, group: rec.GroupName, key: Buffer.from(rec.AuthKey, 'hex') });
  }
  return { entries };
}

export function formatAclJson(entries: readonly AclEntry[]): string {
  const doc: Record<string, { GroupName: string; AuthKey: string }> = {};
  for (const e of entries) doc[e.uid] = { GroupName: e.group, AuthKey: e.key.toString('hex').toUpperCase() };
  return JSON.stringify(doc, null, 2) + '\n';
}

/**
 * Atomic replace: write a temporary file beside the target, fsync, rename. A crash leaves
 * either the old file or the new one, never a torn one. Mode 0600: it holds device keys.
 */
export async function writeAclFileAtomic(path: string, entries: readonly AclEntry[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(formatAclJson(entries), 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  // The rename is durable only once the directory entry is on disk too.
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Removes `.NAME.<hex>.tmp` files a crash left beside the ACL file (mode 0600, but they hold keys). */
export async function removeStaleTemps(path: string): Promise<number> {
  const prefix = `.${basename(path)}.`;
  let names: string[];
  try {
    names = await readdir(dirname(path));
  } catch {
    return 0;
  }
  const stale = names.filter((n) => n.startsWith(prefix) && /^[0-9a-f]{12}\.tmp$/.test(n.slice(prefix.length)));
  await Promise.all(stale.map((n) => unlink(join(dirname(path), n)).catch(() => {})));
  return stale.length;
}

/** Serialises writes so the file always ends with the latest ACL, whatever the timing. */
export class AclFileWriter {
  readonly #path: string;
  #chain: Promise<void> = Promise.resolve();

  constructor(path: string) {
    this.#path = path;
  }

  write(entries: readonly AclEntry[]): Promise<void> {
    const next = this.#chain.then(() => writeAclFileAtomic(this.#path, entries));
    this.#chain = next.catch(() => {});
    return next;
  }

  /** Resolves when every write asked so far has finished. */
  flush(): Promise<void> {
    return this.#chain;
  }
}
