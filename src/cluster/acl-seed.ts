import type { Logger } from 'pino';
import { FileAclStore, type AclStore } from '../registry/acl-store.js';

/**
 * A cluster's ACL lives in its shared store. The first node to start on an empty store writes
 * its `acl.file` there, so an existing single node becomes a cluster without re-provisioning;
 * after that the file is not read (POST /acl or the TCP ACL transmission at any node change it).
 * The file is read as a single node reads it (a missing file is an empty ACL; errors name it).
 */
export async function seedSharedAcl(store: AclStore, file: string, log: Logger): Promise<void> {
  if ((await store.version()) !== '0') return;
  const { entries } = await new FileAclStore(file).read();
  if (entries.length === 0) return;
  await store.replace(entries);
  log.info({ event: 'acl-seeded', entries: entries.length, file }, `the cluster's ACL was empty: seeded from ${file}`);
}
