import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileAclStore } from '../../src/registry/acl-store.js';
import { aclStoreContract } from '../contracts/acl-store.contract.js';

aclStoreContract(t, async (t) => {
  const file = join(t.testdir({}), 'acl.json');
  return { store: async () => new FileAclStore(file) };
});

t.test('an unreadable file names itself', async (t) => {
  const file = join(t.testdir({}), 'acl.json');
  writeFileSync(file, '{"m": ');
  await t.rejects(new FileAclStore(file).read(), { message: new RegExp(`^ACL file ${file}: `) });
});
