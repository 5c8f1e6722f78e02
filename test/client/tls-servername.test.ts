import t, { type Test } from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClientErrorCode, openSession } from '../../src/client/index.js';
import type { Config } from '../../src/config/types.js';
import { certForIps, testCerts, type CertPair } from '../helpers/certs.js';
import { testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { ensureBuilt, spawnCli } from '../helpers/cli.js';

// Node warns about an IP as TLS server name once per process (DEP0123): this file must be
// the only one in its process that dials TLS by IP, and record warnings from the start.
const warnings: Error[] = [];
process.on('warning', (w) => warnings.push(w));
const dep0123 = () => warnings.filter((w) => (w as { code?: string }).code === 'DEP0123');

const dev = device('tls-ip-1');

async function tlsDaemon(t: Test, pair: CertPair): Promise<{ port: number; config: Config }> {
  const c = testConfig(t);
  const cert = join(c.baseDir, 's.crt');
  const key = join(c.baseDir, 's.key');
  writeFileSync(cert, pair.cert);
  writeFileSync(key, pair.key, { mode: 0o600 });
  const d = await startDaemon(t, { ...c, tcp: { ...c.tcp, tls: { cert, key } } }, [dev]);
  return { port: d.port, config: c };
}

const settle = () => new Promise((r) => setImmediate(r));

t.test('SDK dialling 127.0.0.1 over TLS: no IP as server name (no DEP0123), the certificate is checked against the IP', async (t) => {
  const pair = await testCerts();
  const { port } = await tlsDaemon(t, pair);
  // Even a servername the caller set to the IP is not sent: RFC 6066 allows only host names.
  for (const tls of [{ ca: pair.cert }, { ca: pair.cert, servername: '127.0.0.1' }]) {
    const s = await openSession({ host: '127.0.0.1', port, uid: dev.uid, key: dev.key, tls });
    t.teardown(() => s.socket.destroy());
    t.ok('encrypted' in s.socket && s.socket.encrypted, `TLS session opened (${JSON.stringify(Object.keys(tls))})`);
    t.equal((s.socket as import('node:tls').TLSSocket).servername, false, 'no SNI sent');
  }
  await settle();
  t.same(dep0123().map((w) => w.message), [], 'no DEP0123 warning');
});

t.test('a certificate for another IP is refused, with or without a servername', async (t) => {
  const other = await certForIps(['127.0.0.2']);
  const { port } = await tlsDaemon(t, other);
  for (const tls of [{ ca: other.cert }, { ca: other.cert, servername: '127.0.0.1' }]) {
    const err = (await openSession({ host: '127.0.0.1', port, uid: dev.uid, key: dev.key, tls }).catch((e: unknown) => e)) as { code?: string; cause?: { code?: string } };
    t.equal(err.code, ClientErrorCode.TLS, 'refused as a TLS failure');
    t.equal(err.cause?.code, 'ERR_TLS_CERT_ALTNAME_INVALID', 'because the IP is not in the certificate');
  }
  await settle();
  t.same(dep0123().length, 0, 'still no DEP0123');
});

t.test('iotsocket object --tls --ca against 127.0.0.1: connects, and Node prints no DEP0123', async (t) => {
  ensureBuilt();
  const pair = await testCerts();
  const { port, config } = await tlsDaemon(t, pair);
  const ca = join(config.baseDir, 's.crt');
  const sim = spawnCli(['object', '--connect', `127.0.0.1:${port}`, '--uid', dev.uid, '--key', dev.key.toString('hex'), '--tls', '--ca', ca], { cwd: config.baseDir });
  t.teardown(() => void sim.child.kill('SIGKILL'));
  await sim.waitForLog((l) => l.event === 'connected');
  sim.child.kill('SIGTERM');
  const run = await sim.exited;
  t.equal(run.code, 0, 'stopped cleanly');
  t.notMatch(run.stderr, /DEP0123/, 'no DEP0123 on stderr');
});
