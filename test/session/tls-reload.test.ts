import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { ManualClock } from '../../src/clock.js';
import type { Config } from '../../src/config/types.js';
import { ToT } from '../../src/protocol/index.js';
import { generateSelfSigned, type CertPair } from '../../src/tls/self-signed.js';
import { testCerts } from '../helpers/certs.js';
import { testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { RawClient } from '../helpers/raw-client.js';

const devs = [device('old-1'), device('new-2'), device('new-3')];

function writePair(dir: string, pair: CertPair): { cert: string; key: string } {
  const files = { cert: join(dir, 'tcp.crt'), key: join(dir, 'tcp.key') };
  writeFileSync(files.cert, pair.cert);
  writeFileSync(files.key, pair.key);
  return files;
}

t.test('SIGHUP re-reads the TCP certificate: TLS sessions carry on, new ones get the new certificate; a bad file keeps it and is reported', async (t) => {
  // Another subject for B: OpenSSL picks a trusted certificate by its name.
  const [a, b] = await Promise.all([testCerts(), generateSelfSigned({ commonName: 'cert-b.localhost', days: 2 })]);
  const [fpA, fpB] = [a, b].map((p) => new X509Certificate(p.cert).fingerprint256);
  const base = testConfig(t);
  const files = writePair(base.baseDir, a);
  const config: Config = { ...base, tcp: { ...base.tcp, tls: files }, log: { level: 'debug' } }; // reload() applies log.level: keep the test's
  const d = await startDaemon(t, config, devs, { clock: new ManualClock() });
  const open = async (i: number) => {
    const { client } = await RawClient.open(d.port, devs[i]!.uid, devs[i]!.key, { tls: { ca: [a.cert, b.cert] } });
    t.teardown(() => client.close());
    return { client, fingerprint: (client.socket as TLSSocket).getPeerX509Certificate()!.fingerprint256 };
  };
  const alive = async (c: RawClient) => {
    c.send({ type: ToT.PING });
    return (await c.nextOf(ToT.PONG)).type === ToT.PONG;
  };

  const old = await open(0);
  t.equal(old.fingerprint, fpA, 'cert A at first');
  writePair(base.baseDir, b);
  const r1 = await d.daemon.reload();
  t.same(r1.tlsFailed, [], 'reloaded');
  t.equal((await open(1)).fingerprint, fpB, 'a new session gets cert B');
  t.ok(await alive(old.client), 'the session opened under cert A carries on');

  writeFileSync(files.cert, 'not a certificate');
  const r2 = await d.daemon.reload();
  t.same(r2.tlsFailed, ['tcp.tls'], 'a bad file is reported, not thrown');
  t.equal(d.logs.find('tls-reload-failed').length, 1, 'and logged');
  t.equal((await open(2)).fingerprint, fpB, 'cert B stays');
  t.ok(await alive(old.client), 'still no session dropped');
});
