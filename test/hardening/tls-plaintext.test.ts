import t from 'tap';
import fc from 'fast-check';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Format, ToT, computeMac, encodeAuthAnswer, encodeInitiation, encodeTransmission } from '../../src/protocol/index.js';
import { CENTRAL_KEY, testConfig } from '../helpers/config.js';
import { testCerts } from '../helpers/certs.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { RawClient } from '../helpers/raw-client.js';
import { size, sleep } from '../helpers/stress.js';

// PROTOCOL §3 step 3: once TLS was asked, every byte is the TLS layer's. Plaintext that a
// client (or a man in the middle) pipelines after the initiation must never reach the protocol.
t.test('plaintext after a TLS initiation, pipelined or not, in any split, is never parsed as protocol', async (t) => {
  const dev = device('dev-tls');
  const { cert, key } = await testCerts();
  const base = testConfig(t, { limits: { authFailuresPerMinute: 1e9, acceptPerSec: 1e9 } });
  writeFileSync(join(base.baseDir, 's.crt'), cert);
  writeFileSync(join(base.baseDir, 's.key'), key);
  const config = { ...base, tcp: { ...base.tcp, tls: { cert: join(base.baseDir, 's.crt'), key: join(base.baseDir, 's.key') } } };
  const d = await startDaemon(t, config, [dev]);
  const central = (await RawClient.open(d.port, '', CENTRAL_KEY, { tls: { ca: cert } })).client;
  t.teardown(() => central.close());

  const init = encodeInitiation({ tls: true, version: 1, options: 0, maxTransmissionLength: 0 });
  // What an attacker would hope the daemon reads in clear: an auth answer, then a request to the central and a ping.
  const plain = Buffer.concat([
    encodeAuthAnswer(dev.uid, computeMac(dev.key, Buffer.alloc(16))),
    encodeTransmission({ type: ToT.REQUEST, tracking: 7, payload: { format: Format.ASCII, options: 0, data: Buffer.from('injected') } }),
    encodeTransmission({ type: ToT.PING }),
  ]);
  const runs = size(20, 200);
  const cases = fc.sample(fc.tuple(fc.boolean(), fc.array(fc.nat({ max: plain.length + init.length }), { maxLength: 6 })), { numRuns: runs, seed: 7 });
  let answeredOk = 0;
  let extraBytes = 0;
  for (const [pipelined, cuts] of cases) {
    const c = await RawClient.connect(d.port);
    const back: Buffer[] = [];
    c.socket.on('data', (b: Buffer) => back.push(b));
    if (pipelined) {
      const all = Buffer.concat([init, plain]);
      const points = [...new Set(cuts)].sort((a, b) => a - b);
      let from = 0;
      for (const p of [...points, all.length]) {
        if (p > from) { c.write(all.subarray(from, p)); await sleep(0); from = p; }
      }
    } else {
      c.write(init);
    }
    if ((await c.readAnswer()).ok) answeredOk++;
    if (!pipelined) c.write(plain);
    await c.whenClosed();
    // After the 2-byte answer only TLS records may come back (an alert), never a challenge or an auth byte in clear.
    const after = Buffer.concat(back).subarray(2);
    if (after.length > 0 && after[0] !== 0x15 && after[0] !== 0x16) extraBytes += after.length;
  }
  central.send({ type: ToT.PING });
  await central.nextOf(ToT.PONG);
  t.equal(answeredOk, runs, 'each initiation was answered OK (TLS configured)');
  t.equal(central.received.length, 0, 'the central received nothing: no injected request was routed');
  t.equal(extraBytes, 0, 'nothing but TLS records came back after the answer');
  t.equal(d.daemon.internals.sessions.store.size, 1, 'only the central has a session');
  const refused = d.logs.find('handshake-refused').map((l) => l.reason);
  t.equal(refused.length, runs, 'each attempt refused');
  t.ok(refused.every((r) => r === 'tls-failed' || r === 'closed'), `reasons: ${[...new Set(refused)].join(', ')}`);
  t.comment(`tls plaintext: ${runs} attempts (pipelined with random splits, or after the answer), ${refused.filter((r) => r === 'tls-failed').length} tls-failed, 0 parsed, 0 routed`);
  const ok = await RawClient.open(d.port, dev.uid, dev.key, { tls: { ca: cert } });
  t.teardown(() => ok.client.close());
  t.ok(ok.accepted, 'a real TLS device still authenticates');
});
