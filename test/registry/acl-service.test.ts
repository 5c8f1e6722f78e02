import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AclService } from '../../src/registry/acl-service.js';
import { FileAclStore } from '../../src/registry/acl-store.js';

const e = (uid: string, group = 'G') => ({ uid, group, key: Buffer.alloc(16, uid.length) });

t.test('a replacement that cannot be persisted is not applied', async (t) => {
  // The target path is a directory, so the atomic rename fails (for root too).
  const dir = t.testdir({ 'acl.json': {} });
  const revoked: string[] = [];
  const svc = new AclService(new FileAclStore(join(dir, 'acl.json')), ['G'], { revoked: (uid) => revoked.push(uid) });
  await t.rejects(svc.replace([e('b')]));
  t.equal(svc.current.get('b'), undefined, 'not applied when the file could not be written');
  t.same(revoked, [], 'no session ended');
});

t.test('replacements applied and persisted in order', async (t) => {
  const file = join(t.testdir({}), 'acl.json');
  const svc = new AclService(new FileAclStore(file), ['G'], { revoked: () => {} });
  await svc.load();
  await Promise.all([svc.replace([e('x')]), svc.replace([e('y')]), svc.replace([e('z')])]);
  t.same(Object.keys(JSON.parse(readFileSync(file, 'utf8'))), ['z']);
  t.ok(svc.current.get('z'));
  t.equal(svc.current.size, 1);
});

t.test('temporary files left by a crash during a write are removed at load (they hold device keys)', async (t) => {
  const dir = t.testdir({ 'acl.json': '{}', '.acl.json.0a1b2c3d4e5f.tmp': '{"half": "written"}', 'other.tmp': 'not ours' });
  const svc = new AclService(new FileAclStore(join(dir, 'acl.json')), ['G'], { revoked: () => {} });
  await svc.load();
  const { readdirSync } = await import('node:fs');
  t.same(readdirSync(dir).sort(), ['acl.json', 'other.tmp']);
});
