import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { parseAclJson } from '../registry/acl-file.js';
import type { AclStore } from '../registry/acl-store.js';

/**
 * A cluster's ACL lives in its shared store. The first node to start on an empty store writes
 * its `acl.file` there, so an existing single node becomes a cluster without re-provisioning;
 * after that the file is not read (POST /acl or the TCP ACL transmission at any node change it).
 */
export async function seedSharedAcl(store: AclStore, file: string, log: Logger): Promise<void> {
  if ((await store.version()) !== '0') return;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new Error(`ACL file ${file}: ${(err as Error).message}`);
  }
  const parsed = parseAclJson(text);
  if ('error' in parsed) throw new Error(`ACL file ${file}: ${parsed.error}`);
  if (parsed.entries.length === 0) return;
  await store.replace(parsed.entries);
  log.info({ event: 'acl-seeded', entries: parsed.entries.length, file }, `the cluster's ACL was empty: seeded from ${file}`);
}
