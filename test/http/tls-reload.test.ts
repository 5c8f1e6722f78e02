import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { ManualClock } from '../../src/clock.js';
import type { Config } from '../../src/config/types.js';
import { Format, ToT } from '../../src/protocol/index.js';
import { generateSelfSigned, type CertPair } from '../../src/tls/self-signed.js';
import { testCerts } from '../helpers/certs.js';
import { testConfig } from '../helpers/config.js';
import { device } from '../helpers/daemon.js';
import { head, startHttpDaemon } from '../helpers/http.js';
import { RawClient } from '../helpers/raw-client.js';

const dev = device('dev-1');

/** An HTTP/1.1 exchange by hand over TLS: keeps the connection, so a test can hold it across a reload. */
class TlsHttp {
  text = '';
  /** SHA-256 of the certificate the server showed in this connection's handshake. */
  readonly fingerprint: string;
  #wake: Array<() => void> = [];
  private constructor(readonly socket: TLSSocket) {
    this.fingerprint = socket.getPeerX509Certificate()!.fingerprint256;
    socket.setEncoding('latin1');
    socket.on('data', (s: string) => { this.text += s; this.#wake.splice(0).forEach((f) => f()); });
    socket.on('close', () => this.#wake.splice(0).forEach((f) => f()));
    socket.on('error', () => {});
  }

  static async connect(port: number, ca: string[]): Promise<TlsHttp> {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca });
    await new Promise<void>((resolve, reject) => { socket.once('secureConnect', resolve); socket.once('error', reject); });
    return new TlsHttp(socket);
  }

  post(body: string): void {
    this.socket.write(head('/request', { 'content-length': Buffer.byteLength(body) }) + body);
  }

  async waitFor(s: string): Promise<void> {
    while (!this.text.includes(s)) {
      if (this.socket.destroyed) throw new Error(`closed before ${JSON.stringify(s)}; got ${JSON.stringify(this.text)}`);
      await new Promise<void>((r) => this.#wake.push(r));
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

function writePair(dir: string, name: string, pair: CertPair): { cert: string; key: string } {
  const files = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  writeFileSync(files.cert, pair.cert);
  writeFileSync(files.key, pair.key);
  return files;
}

t.test('SIGHUP re-reads the HTTPS and admin certificates; open connections and held requests carry on; a bad file keeps the old one', async (t) => {
  const [a, b] = await Promise.all([testCerts(), generateSelfSigned({ commonName: 'cert-b.localhost', days: 2 })]); // another subject: OpenSSL picks a trusted cert by its name
  const fpA = new X509Certificate(a.cert).fingerprint256;
  const fpB = new X509Certificate(b.cert).fingerprint256;
  t.not(fpA, fpB);
  const ca = [a.cert, b.cert];
  const base = testConfig(t);
  const httpFiles = writePair(base.baseDir, 'http', a);
  const adminFiles = writePair(base.baseDir, 'admin', a);
  const config: Config = {
    ...base,
    http: { ...base.http, enabled: true, tls: httpFiles },
    admin: { host: '127.0.0.1', port: 0, tls: adminFiles },
    log: { level: 'debug' }, // reload() applies log.level: keep the test's
  };
  const d = await startHttpDaemon(t, [dev], { config, scheme: 'https', connect: { ca }, clock: new ManualClock() });
  const adminPort = d.daemon.addresses!.admin!.port;
  const conns: TlsHttp[] = [];
  const open = async (port = d.httpPort) => { const c = await TlsHttp.connect(port, ca); conns.push(c); return c; };
  t.teardown(() => conns.forEach((c) => c.close()));
  const obj = (await RawClient.open(d.port, dev.uid, dev.key)).client;
  t.teardown(() => obj.close());

  const body = (p: string) => JSON.stringify({ UID: dev.uid, Format: 'ASCII', Payload: p });
  const keptAlive = await open();
  keptAlive.post(JSON.stringify({ UID: 'nobody', Format: 'ASCII', Payload: 'x' }));
  await keptAlive.waitFor('"Code":160');
  const held = await open();
  held.post(body('held'));
  const req = await obj.nextOf(ToT.REQUEST);
  t.same([keptAlive.fingerprint, held.fingerprint, (await open(adminPort)).fingerprint], [fpA, fpA, fpA], 'cert A everywhere at first');

  writePair(base.baseDir, 'http', b);
  writePair(base.baseDir, 'admin', b);
  const r1 = await d.daemon.reload();
  t.same([r1.applied, r1.restartNeeded, r1.tlsFailed], [[], [], []], 'same paths: nothing to report, files re-read');
  t.equal((await open()).fingerprint, fpB, 'a new HTTPS connection gets cert B');
  t.equal((await open(adminPort)).fingerprint, fpB, 'so does a new admin connection');
  t.equal(d.logs.find('tls-reloaded').length, 2);

  obj.send({ type: ToT.RESPONSE, tracking: req.tracking, code: 0, payload: { format: Format.ASCII, options: 0, data: Buffer.from('answered after the reload') } });
  await held.waitFor('answered after the reload');
  t.match(held.text, /^HTTP\/1\.1 200 /, 'the held request completed on its cert-A connection');
  keptAlive.post(JSON.stringify({ UID: 'nobody', Format: 'ASCII', Payload: 'again' }));
  await keptAlive.waitFor('"Reason":"not-in-acl"}HTTP/1.1 200');
  t.equal(keptAlive.socket.destroyed, false, 'the kept-alive cert-A connection was not dropped: it served another request');

  writeFileSync(httpFiles.cert, 'not a certificate\n');
  writeFileSync(adminFiles.key, a.key); // a key that does not match cert B
  const r2 = await d.daemon.reload();
  t.same(r2.tlsFailed, ['http.tls', 'admin.tls'], 'both failures reported');
  t.same(d.logs.find('tls-reload-failed').map((l) => l.listener), ['http', 'admin'], 'and logged');
  t.equal((await open()).fingerprint, fpB, 'a bad certificate file: the previous context stays');
  t.equal((await open(adminPort)).fingerprint, fpB, 'a mismatched key: the previous context stays');

  const moved = writePair(base.baseDir, 'moved', a);
  const r3 = await d.daemon.reload({ ...config, http: { ...config.http, tls: moved } });
  t.same([r3.applied.sort(), r3.restartNeeded, r3.tlsFailed], [['http.tls.cert', 'http.tls.key'], [], ['admin.tls']], 'new paths are applied too');
  t.equal((await open()).fingerprint, fpA, 'cert A from its new path');
  t.notMatch(d.logs.raw.join('\n'), /PRIVATE KEY/, 'no key material in the logs');
});
