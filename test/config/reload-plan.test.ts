import t from 'tap';
import { planReload } from '../../src/config/reload-plan.js';
import { testConfig } from '../helpers/config.js';

t.test('SIGHUP plan: TCP TLS files and log level apply; everything else needs a restart', async (t) => {
  const a = testConfig(t);
  const b = {
    ...a,
    log: { level: 'debug' as const },
    tcp: { ...a.tcp, port: 9, tls: { cert: '/x.crt', key: '/x.key' } },
    http: { ...a.http, tls: { cert: '/h.crt', key: '/h.key' } },
    acl: { file: '/elsewhere.json' },
    central: { ...a.central, authKey: Buffer.alloc(16, 1) },
  };
  const plan = planReload(a, b);
  t.same(plan.reload.sort(), ['log.level', 'tcp.tls'], 'TLS turned on: one key');
  t.same(plan.restart.sort(), ['acl.file', 'central.authKey', 'http.tls', 'tcp.port']);
  t.same(planReload(a, a), { reload: [], restart: [] }, 'no change, nothing to say');
});
