import t from 'tap';
import { planReload } from '../../src/config/reload-plan.js';
import { testConfig } from '../helpers/config.js';

t.test('SIGHUP plan: TLS files and log level apply; everything else needs a restart', async (t) => {
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
  t.same(plan.reload.sort(), ['log.level', 'tcp.tls'], 'TCP TLS turned on: one key');
  t.same(plan.restart.sort(), ['acl.file', 'central.authKey', 'http.tls', 'tcp.port'], 'HTTP TLS turned on: HTTP cannot become HTTPS in place');
  t.same(planReload(a, a), { reload: [], restart: [] }, 'no change, nothing to say');
});

t.test('SIGHUP plan: new certificate paths for an HTTPS or admin listener apply; turning TLS off needs a restart', async (t) => {
  const base = testConfig(t);
  const a = { ...base, http: { ...base.http, tls: { cert: '/h.crt', key: '/h.key' } }, admin: { host: '127.0.0.1', port: 0, tls: { cert: '/a.crt', key: '/a.key' } } };
  const moved = { ...a, http: { ...a.http, tls: { cert: '/new/h.crt', key: '/new/h.key' } }, admin: { ...a.admin, tls: { cert: '/new/a.crt', key: '/a.key' } } };
  t.same(planReload(a, moved), { reload: ['http.tls.cert', 'http.tls.key', 'admin.tls.cert'], restart: [] });
  const { tls: _h, ...httpPlain } = a.http;
  const off = { ...a, http: httpPlain, admin: { host: '127.0.0.1', port: 0 } };
  t.same(planReload(a, off), { reload: [], restart: ['http.tls', 'admin.tls'] });
});

t.test('SIGHUP after SIGHUP: keys that need a restart stay pending until the restart; a revert is no change', async (t) => {
  const { startDaemon } = await import('../helpers/daemon.js');
  const started = testConfig(t);
  const d = await startDaemon(t, started);
  const moved = { ...started, tcp: { ...started.tcp, port: started.tcp.port + 1 }, keepSessionSec: 5 };
  const r1 = await d.daemon.reload(moved);
  t.same(r1.restartNeeded.sort(), ['keepSessionSec', 'tcp.port']);
  const r2 = await d.daemon.reload(moved);
  t.same(r2.restartNeeded.sort(), ['keepSessionSec', 'tcp.port'], 'the second reload of the same file still says so');
  const halfBack = { ...moved, keepSessionSec: started.keepSessionSec, log: { level: 'warn' as const } };
  const r3 = await d.daemon.reload(halfBack);
  t.same([r3.applied, r3.restartNeeded], [['log.level'], ['tcp.port']], 'one key reverted: only the other is pending');
  const r4 = await d.daemon.reload({ ...started, log: { level: 'warn' as const } });
  t.same([r4.applied, r4.restartNeeded], [[], []], 'back to what runs: nothing pending, and the revert is not reported as a change');
});

t.test('SIGHUP plan against the running config: restart keys compare with what was started', async (t) => {
  const a = testConfig(t);
  const b = { ...a, tcp: { ...a.tcp, port: 9 } };
  t.same(planReload(b, b, a), { reload: [], restart: ['tcp.port'] }, 'still pending after an earlier reload');
  t.same(planReload(b, a, a), { reload: [], restart: [] }, 'reverted');
});
