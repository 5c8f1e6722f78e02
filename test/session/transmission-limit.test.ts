import t, { type Test } from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '../../src/clock.js';
import { CloseCode, Format, ToT, encodeTransmission, type Transmission } from '../../src/protocol/index.js';
import { testCerts } from '../helpers/certs.js';
import { CENTRAL_KEY, testConfig } from '../helpers/config.js';
import { device, startDaemon } from '../helpers/daemon.js';
import { RawClient } from '../helpers/raw-client.js';
import { until } from '../helpers/until.js';

// tcp.maxTransmissionBytes at its boundary over real sockets: exactly the limit is routed; one
// byte more is closed with 0x02 (PROTOCOL §4) on its header alone: no body byte is ever sent.

const LIMIT = 100;
const dev = device('dev-1');
const data = (n: number) => ({ format: Format.BINARY, options: 0, data: Buffer.alloc(n, 0x62) });
/** Object request: header 30 TTTT F LLLL, 6 bytes; central request: 38 UID(16) TTTT F LLLL, 22 bytes. */
const objectRequest = (total: number): Transmission => ({ type: ToT.REQUEST, tracking: 1, payload: data(total - 6) });
const centralRequest = (total: number): Transmission => ({ type: ToT.REQUEST, uid: dev.uid, tracking: 2, payload: data(total - 22) });

async function setup(t: Test, tls: boolean) {
  const c = testConfig(t, { tcp: { maxTransmissionBytes: LIMIT } });
  let config = c;
  let ca: string | undefined;
  if (tls) {
    const { cert, key } = await testCerts();
    writeFileSync(join(c.baseDir, 'server.crt'), cert);
    writeFileSync(join(c.baseDir, 'server.key'), key);
    config = { ...c, tcp: { ...c.tcp, tls: { cert: join(c.baseDir, 'server.crt'), key: join(c.baseDir, 'server.key') } } };
    ca = cert;
  }
  // A manual clock: the deadline for a started transmission can never be what closes the connection.
  const d = await startDaemon(t, config, [dev], { clock: new ManualClock() });
  const opts = ca ? { tls: { ca } } : {};
  const central = (await RawClient.open(d.port, '', CENTRAL_KEY, opts)).client;
  const obj = (await RawClient.open(d.port, dev.uid, dev.key, opts)).client;
  t.teardown(() => { central.close(); obj.close(); });
  await obj.nextOf(ToT.TOKEN); // Devices have telemetry: the token comes first
  return { ...d, central, obj };
}

/** Names what did not arrive, so a refusal of an in-limit transmission reads as such. */
async function arrives<X>(p: Promise<X>, what: string): Promise<X> {
  try {
    return await p;
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}`);
  }
}

/** Sends only the header of an over-limit transmission and expects Close 0x02, then the close. */
async function refusedOnHeader(t: Test, c: RawClient, x: Transmission, headerLength: number, who: string) {
  const bytes = encodeTransmission(x);
  t.equal(bytes.length, LIMIT + 1, `${who}: one byte over the limit`);
  c.write(bytes.subarray(0, headerLength));
  t.equal((await c.nextOf(ToT.CLOSE, 3000)).code, CloseCode.TOO_MANY, `${who}: Close 0x02 with only the ${headerLength}-byte header sent`);
  await until(() => c.closed, `the daemon to close the ${who}'s connection after Close 0x02`, 3000);
}

for (const mode of ['plain', 'TLS'] as const) {
  t.test(`${mode}: a transmission of exactly tcp.maxTransmissionBytes is routed, both ways`, async (t) => {
    const { central, obj, daemon } = await setup(t, mode === 'TLS');
    obj.send(objectRequest(LIMIT));
    const up = await arrives(central.nextOf(ToT.REQUEST, 3000), "the object's 100-byte request at the central");
    t.same([up.uid, up.payload.data.length], [dev.uid, LIMIT - 6], 'the object\'s 100-byte request reaches the central');
    central.send(centralRequest(LIMIT));
    const down = await arrives(obj.nextOf(ToT.REQUEST, 3000), "the central's 100-byte request at the object");
    t.equal(down.payload.data.length, LIMIT - 22, 'the central\'s 100-byte request reaches the object');
    t.equal(daemon.internals.sessions.get(dev.uid)?.state, 'connected', 'the object\'s session goes on');
    t.notOk(central.closed || obj.closed, 'neither connection closed');
  });

  t.test(`${mode}: one byte more is refused on its header, before any body byte`, async (t) => {
    const { central, obj, daemon } = await setup(t, mode === 'TLS');
    await refusedOnHeader(t, obj, objectRequest(LIMIT + 1), 6, 'object');
    await until(() => daemon.internals.sessions.get(dev.uid) === undefined, 'the object\'s session to end (0x02 keeps nothing)', 3000);
    await refusedOnHeader(t, central, centralRequest(LIMIT + 1), 22, 'central');
  });
}
