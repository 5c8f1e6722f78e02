import t from 'tap';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Format, ResponseCode, ToT } from '../../src/protocol/index.js';
import { formatAclJson } from '../../src/registry/acl-file.js';
import { ensureBuilt, spawnCli } from '../helpers/cli.js';
import { deviceRequestScenario } from '../helpers/cli-daemon.js';
import { device } from '../helpers/daemon.js';
import { RawClient } from '../helpers/raw-client.js';

// What a user runs: the built CLI, a YAML config, a central and two objects over real TCP (TLS for one).
t.test('iotsocket start: a central and two objects exchange requests through the daemon', async (t) => {
  ensureBuilt();
  const a = device('meter-a');
  const b = device('meter-b', 'Stations');
  const dir = t.testdir({
    'c.yaml': [
      'keepSessionSec: 30',
      'tcp: { port: 0, tls: { cert: certs/s.crt, key: certs/s.key, generateDevCert: true } }',
      'udp: { enabled: false }',
      'http: { enabled: false }',
      'central: { authKeyFile: data/central.key }',
      'groups: { Devices: { telemetry: true, telemetryTokenExpMin: 5 }, Stations: {} }',
      'acl: { file: data/acl.json }',
      '',
    ].join('\n'),
    data: { 'acl.json': formatAclJson([a, b]) },
  });
  const run = spawnCli(['start', '-c', 'c.yaml'], { cwd: dir });
  t.teardown(() => void run.child.kill('SIGKILL'));
  const listening = await run.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('listening'));
  const port = (listening.tcp as AddressInfo).port;
  const centralKey = Buffer.from(readFileSync(join(dir, 'data/central.key'), 'utf8').trim(), 'hex');
  const ca = readFileSync(join(dir, 'certs/s.crt'), 'utf8');

  const central = (await RawClient.open(port, '', centralKey)).client;
  const objA = await RawClient.open(port, a.uid, a.key, { tls: { ca } });
  const objB = (await RawClient.open(port, b.uid, b.key)).client;
  t.teardown(() => { central.close(); objA.client.close(); objB.close(); });
  t.ok(objA.accepted, 'object A authenticated over TLS with the generated development certificate');
  t.equal((await objA.client.next()).type, ToT.TOKEN, 'object A (telemetry group) got its token');

  for (const [obj, uid] of [[objA.client, a.uid], [objB, b.uid]] as const) {
    central.send({ type: ToT.REQUEST, uid, tracking: 100, payload: { format: Format.JSON, options: 0, data: Buffer.from('{"read":true}') } });
    const req = await obj.nextOf(ToT.REQUEST);
    obj.send({ type: ToT.RESPONSE, tracking: req.tracking, code: ResponseCode.VALID, payload: { format: Format.JSON, options: 0, data: Buffer.from(`{"uid":"${uid}"}`) } });
    const res = await central.nextOf(ToT.RESPONSE);
    t.same([res.uid, res.tracking, res.code, res.payload.data.toString()], [uid, 100, 0, `{"uid":"${uid}"}`], `round trip with ${uid}`);
  }
  objB.send({ type: ToT.REQUEST, tracking: 1, payload: { format: Format.ASCII, options: 0, data: Buffer.from('alarm') } });
  const up = await central.nextOf(ToT.REQUEST);
  t.same([up.uid, up.payload.data.toString()], [b.uid, 'alarm'], 'object request reaches the central with its UID');
  central.send({ type: ToT.RESPONSE, uid: b.uid, tracking: up.tracking, code: 0, payload: { format: 0, options: 0, data: Buffer.alloc(0) } });
  t.equal((await objB.nextOf(ToT.RESPONSE)).tracking, 1);

  // SIGTERM: every session gets Close 0x01 and the process exits 0.
  run.child.kill('SIGTERM');
  t.equal((await central.nextOf(ToT.CLOSE)).code, 0x01, 'central told maintenance');
  t.equal((await objB.nextOf(ToT.CLOSE)).code, 0x01, 'object told maintenance');
  const exit = await run.exited;
  t.equal(exit.code, 0, 'exit 0');
  const lines = exit.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  t.ok(lines.some((l) => l.event === 'session-started' && l.uid === a.uid && l.tls === true), 'session start logged with UID and TLS');
  t.ok(lines.some((l) => /development certificate/i.test(l.msg)), 'warned that the certificate is a development one');
  t.notOk(exit.stdout.toLowerCase().includes(centralKey.toString('hex')), 'central key never logged');
});

// The scenario test/e2e/sea.test.ts runs against the single binary, here through `node bin/iotsocket.js`.
t.test('iotsocket start (node bin/iotsocket.js): a device over TCP answers a POST /request; SIGTERM exits 0', async (t) => {
  ensureBuilt();
  await deviceRequestScenario(t, { dir: t.testdir({}) });
});
