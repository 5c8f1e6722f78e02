import t, { type Test } from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHALLENGE_LENGTH, computeMac, encodeAuthAnswer, encodeInitiation } from '../../src/protocol/index.js';
import { testCerts } from '../helpers/certs.js';
import { CENTRAL_KEY, testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { RawClient } from '../helpers/raw-client.js';
import { until } from '../helpers/until.js';

// PROTOCOL §3 step 4: a challenge is fresh per handshake. ChallengePool alone is tested in
// challenge-pool.test.ts; this checks what a real daemon sends, so a host that drew one
// challenge and handed it to every handshake (a replayable MAC) cannot pass.

const dev = device('dev-1');
const CONNECTIONS = 8;

async function tlsDaemon(t: Test) {
  const c = testConfig(t);
  const { cert, key } = await testCerts();
  writeFileSync(join(c.baseDir, 'server.crt'), cert);
  writeFileSync(join(c.baseDir, 'server.key'), key);
  const config = { ...c, tcp: { ...c.tcp, tls: { cert: join(c.baseDir, 'server.crt'), key: join(c.baseDir, 'server.key') } } };
  return { d: await startDaemon(t, config, [dev]), ca: cert };
}

/** Initiation (and TLS when `ca` is given) up to the challenge, which is returned unanswered. */
async function challenged(t: Test, port: number, ca?: string): Promise<{ client: RawClient; challenge: Buffer }> {
  const client = await RawClient.connect(port);
  t.teardown(() => client.close());
  client.write(encodeInitiation({ tls: ca !== undefined, version: 1, options: 0, maxTransmissionLength: 0 }));
  if (!(await client.readAnswer()).ok) throw new Error('initiation refused');
  if (ca !== undefined) await client.startTls(ca);
  return { client, challenge: Buffer.from(await client.read(CHALLENGE_LENGTH)) };
}

/** Sends the auth answer and reads the one-byte verdict: true when accepted. */
async function answer(client: RawClient, uid: string, mac: Buffer): Promise<boolean> {
  client.write(encodeAuthAnswer(uid, mac));
  const [b] = await client.read(1);
  return b === 1;
}

for (const mode of ['plain', 'TLS'] as const) {
  t.test(`${mode}: every connection gets its own challenge; a MAC for one is refused on another`, async (t) => {
    const { d, ca } = mode === 'TLS' ? await tlsDaemon(t) : { d: await startDaemon(t, testConfig(t), [dev]), ca: undefined };
    // Several handshakes open at once (each still holds its challenge), then one more after they end.
    const open = await Promise.all(Array.from({ length: CONNECTIONS }, () => challenged(t, d.port, ca)));
    const hexes = open.map((o) => o.challenge.toString('hex'));
    t.equal(new Set(hexes).size, CONNECTIONS, `${CONNECTIONS} concurrent handshakes, ${CONNECTIONS} different challenges`);
    t.notOk(hexes.includes('0'.repeat(2 * CHALLENGE_LENGTH)), 'no all-zero challenge');

    const [a, b] = open as [typeof open[0], typeof open[0]];
    const macForA = computeMac(dev.key, a.challenge);
    t.notOk(await answer(b.client, dev.uid, macForA), "the MAC for A's challenge is refused on B");
    await until(() => b.client.closed, 'the refused connection B to close');
    t.ok(await answer(a.client, dev.uid, macForA), 'the same MAC is accepted on A: it was a valid MAC');
    const central = open[2]!;
    t.notOk(await answer(central.client, '', computeMac(CENTRAL_KEY, a.challenge)), "the central's MAC over A's challenge is refused on another connection");
    t.same(d.logs.find('handshake-refused').map((l) => l.reason), ['bad-mac', 'bad-mac'], 'both refusals logged as bad-mac');

    for (const o of open) o.client.close();
    const later = await challenged(t, d.port, ca);
    t.notOk(hexes.includes(later.challenge.toString('hex')), 'a later connection does not get an earlier challenge');
    t.notOk(await answer(later.client, dev.uid, macForA), 'a replayed MAC is refused on a later connection');
  });
}
