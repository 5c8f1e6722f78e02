import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Format, ToT, type AclEntry } from '../../src/protocol/index.js';
import { parseAclJson } from '../../src/registry/acl-file.js';
import { spawnCli, ensureBuilt } from '../helpers/cli.js';
import { cliFiles, isListening, portOf } from '../helpers/cli-daemon.js';
import { CENTRAL_KEY } from '../helpers/config.js';
import { device } from '../helpers/daemon.js';
import { RawClient } from '../helpers/raw-client.js';
import { size, sleep, until } from '../helpers/stress.js';
import { BEARER } from '../helpers/http.js';
import { request } from 'undici';

const key = (e: AclEntry[]) => e.map((x) => `${x.group}/${x.uid}/${x.key.toString('hex')}`).sort().join('|');

t.test('kill -9 with kept sessions, held HTTP requests and ACL writes under way: the ACL file is whole, restart is clean, devices re-authenticate', async (t) => {
  ensureBuilt();
  const base = Array.from({ length: 4 }, (_, i) => device(`base-${i}`, 'Stations'));
  const files = cliFiles(base);
  files['c.yaml'] = files['c.yaml'].replace('http: { enabled: false }', 'http: { enabled: true, port: 0 }');
  const dir = t.testdir(files);
  const aclPath = join(dir, 'data/acl.json');
  const initialText = readFileSync(aclPath, 'utf8');
  const cycles = size(3, 12);
  const burst = size(20, 200);
  const versions = new Set<string>([key(base)]);
  const report: Array<Record<string, unknown>> = [];

  for (let cycle = 0; cycle < cycles; cycle++) {
    const run = spawnCli(['start', '-c', 'c.yaml'], { cwd: dir });
    t.teardown(() => void run.child.kill('SIGKILL'));
    const listening = await run.waitForLog(isListening);
    const port = portOf(listening);
    const httpPort = (listening.http as { port: number }).port;
    // The ACL as it stands after the last crash: base devices authenticate again.
    const current = (parseAclJson(readFileSync(aclPath, 'utf8')) as { entries: AclEntry[] }).entries;
    const central = (await RawClient.open(port, '', CENTRAL_KEY)).client;
    t.teardown(() => central.close());
    const reauth = await Promise.all(base.map((d) => RawClient.open(port, d.uid, d.key)));
    t.teardown(() => reauth.forEach((r) => r.client.close()));
    t.ok(reauth.every((r) => r.accepted), `cycle ${cycle}: every base device re-authenticates after restart`);

    // A kept session with buffered requests, and a request in flight on a connected one.
    reauth[0]!.client.close();
    await sleep(50);
    for (let i = 0; i < 3; i++) central.send({ type: ToT.REQUEST, uid: base[0]!.uid, tracking: i, payload: { format: Format.ASCII, options: 0, data: Buffer.from('buffered') } });
    central.send({ type: ToT.REQUEST, uid: base[1]!.uid, tracking: 9, payload: { format: Format.ASCII, options: 0, data: Buffer.from('in flight') } });
    await reauth[1]!.client.nextOf(ToT.REQUEST);
    // And a POST /request held open, to a connected device that does not answer.
    const held = request(`http://127.0.0.1:${httpPort}/request`, {
      method: 'POST', headers: { authorization: BEARER, 'content-type': 'application/json' },
      body: JSON.stringify({ UID: base[2]!.uid, Format: 'ASCII', Payload: 'held', Timeout: 30 }),
    }).then((r) => `HTTP ${r.statusCode}`, (err: { code?: string }) => `error ${err.code ?? 'unknown'}`);
    await reauth[2]!.client.nextOf(ToT.REQUEST);

    // A burst of ACL replacements; the daemon is killed while they are being written.
    for (let v = 0; v < burst; v++) {
      const extra = device(`c${cycle}-v${v}`, 'Devices');
      const entries = [...base, { ...extra }].map((d) => ({ group: d.group, uid: d.uid, key: d.key }));
      versions.add(key(entries));
      central.send({ type: ToT.ACL, entries });
    }
    await sleep([1, 15, 300][cycle % 3]!); // vary where the kill lands
    run.child.kill('SIGKILL');
    const exit = await run.exited;
    t.equal(exit.signal, 'SIGKILL', 'killed');
    await until(() => central.closed, 2000);
    t.equal(central.received.filter((x) => x.type === ToT.RESPONSE).length, 0, 'in-flight and buffered requests got no answer: that state died with the process');
    const heldEnd = await held;
    t.match(heldEnd, /^error /, `the held HTTP request ends with a connection error, not an answer (${heldEnd})`);

    const text = readFileSync(aclPath, 'utf8');
    const parsed = parseAclJson(text);
    t.ok('entries' in parsed, 'the ACL file parses');
    const now = 'entries' in parsed ? key(parsed.entries) : '';
    t.ok(versions.has(now), 'and holds exactly one of the ACLs sent (or the previous one), never a torn mix');
    // The test wrote the first file itself (mode 0644); once the daemon has written it, 0600.
    if (text !== initialText) t.equal(statSync(aclPath).mode & 0o777, 0o600, 'written by the daemon: mode 0600');
    const leftovers = readdirSync(join(dir, 'data')).filter((f) => f.endsWith('.tmp'));
    report.push({ cycle, aclEntries: 'entries' in parsed ? parsed.entries.length : -1, lastVersionWritten: now === [...versions].at(-1), tmpLeftovers: leftovers.length, before: current.length });
  }

  // The final restart: clean, and the sessions/buffers/tokens of before are gone.
  const run = spawnCli(['start', '-c', 'c.yaml'], { cwd: dir });
  t.teardown(() => void run.child.kill('SIGKILL'));
  const port = portOf(await run.waitForLog(isListening));
  const back = await RawClient.open(port, base[0]!.uid, base[0]!.key);
  t.teardown(() => back.client.close());
  t.ok(back.accepted, 'the device with a kept session re-authenticates');
  back.client.send({ type: ToT.PING });
  await back.client.nextOf(ToT.PONG);
  t.equal(back.client.received.filter((x) => x.type === ToT.REQUEST).length, 0, 'its buffered requests are gone (not replayed)');
  run.child.kill('SIGTERM');
  t.equal((await run.exited).code, 0, 'and the restarted daemon stops cleanly');
  t.comment(`crash-restart: ${cycles} cycles of kill -9 after a burst of ${burst} ACL replacements: ${JSON.stringify(report)}`);
});
