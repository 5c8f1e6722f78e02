import t from 'tap';
import { Format, ResponseCode, ToT, type Transmission } from '../../src/protocol/index.js';
import { ensureBuilt, spawnCli } from '../helpers/cli.js';
import { cliFiles, isListening, portOf } from '../helpers/cli-daemon.js';
import { CENTRAL_KEY } from '../helpers/config.js';
import { device } from '../helpers/daemon.js';
import { RawClient } from '../helpers/raw-client.js';
import { size, sleep, until } from '../helpers/stress.js';

/** Replaces a RawClient's received queue by a handler (including what came with the accept byte). */
function onTransmissions(c: RawClient, fn: (x: Transmission) => void): void {
  const early = c.received.splice(0);
  (c.received as Transmission[]).push = (...ts: Transmission[]) => { ts.forEach(fn); return 0; };
  early.forEach(fn);
}

const p = (s: string) => ({ format: Format.ASCII, options: 0, data: Buffer.from(s) });

t.test('SIGTERM under load (CLI child): every tracked request answered once, sessions closed 0x01, exit 0 within 15 s', async (t) => {
  ensureBuilt();
  const n = size(10, 100);
  const rounds = size(20, 200);
  const devs = Array.from({ length: n }, (_, i) => device(`obj-${i}`, 'Stations'));
  const dir = t.testdir(cliFiles(devs));
  const run = spawnCli(['start', '-c', 'c.yaml'], { cwd: dir });
  t.teardown(() => void run.child.kill('SIGKILL'));
  const port = portOf(await run.waitForLog(isListening));

  const down = new Map<string, number[]>(); // `${uid}/${tracking}` → codes seen at the central
  const up = new Map<string, number[]>(); // same, seen at the objects
  const closes: number[] = [];
  const pongs = new Map<RawClient, number>();
  const central = (await RawClient.open(port, '', CENTRAL_KEY)).client;
  t.teardown(() => central.close());
  onTransmissions(central, (x) => {
    if (x.type === ToT.RESPONSE) down.get(`${x.uid}/${x.tracking}`)?.push(x.code);
    else if (x.type === ToT.REQUEST && x.tracking % 8 !== 0) {
      central.send({ type: ToT.RESPONSE, uid: x.uid, tracking: x.tracking, code: ResponseCode.VALID, payload: x.payload });
    } else if (x.type === ToT.CLOSE) closes.push(x.code);
    else if (x.type === ToT.PONG) pongs.set(central, (pongs.get(central) ?? 0) + 1);
  });
  const objs: RawClient[] = [];
  for (const [i, dev] of devs.entries()) {
    const c = (await RawClient.open(port, dev.uid, dev.key)).client;
    t.teardown(() => c.close());
    objs.push(c);
    onTransmissions(c, (x) => {
      // Even objects answer at once; odd ones never answer (their requests are in flight at SIGTERM).
      if (x.type === ToT.REQUEST && i % 2 === 0) c.send({ type: ToT.RESPONSE, tracking: x.tracking, code: ResponseCode.VALID, payload: x.payload });
      else if (x.type === ToT.RESPONSE) up.get(`${dev.uid}/${x.tracking}`)?.push(x.code);
      else if (x.type === ToT.CLOSE) closes.push(x.code);
      else if (x.type === ToT.PONG) pongs.set(c, (pongs.get(c) ?? 0) + 1);
    });
  }
  for (let r = 0; r < rounds; r++) {
    for (const [i, dev] of devs.entries()) {
      down.set(`${dev.uid}/${r}`, []);
      central.send({ type: ToT.REQUEST, uid: dev.uid, tracking: r, payload: p(`d${r}`) });
      up.set(`${dev.uid}/${r}`, []);
      objs[i]!.send({ type: ToT.REQUEST, tracking: r, payload: p(`u${r}`) });
    }
    if (r % 10 === 9) await sleep(1);
  }
  // Everything sent has been read by the daemon (a Ping/Pong round trip per connection): it is all tracked.
  let synced = 0;
  for (const c of [central, ...objs]) {
    const before = pongs.get(c) ?? 0;
    c.send({ type: ToT.PING });
    if (await until(() => (pongs.get(c) ?? 0) > before, 10_000)) synced++;
  }
  t.equal(synced, n + 1, 'every connection synced before the signal');
  const answeredBefore = [...down.values(), ...up.values()].filter((v) => v.length > 0).length;

  const t0 = Date.now();
  run.child.kill('SIGTERM');
  let guard: NodeJS.Timeout | undefined;
  const exit = await Promise.race([run.exited, new Promise<undefined>((r) => { guard = setTimeout(() => r(undefined), 15_000); })]);
  clearTimeout(guard);
  const ms = Date.now() - t0;
  t.ok(exit, `exited within 15 s (${ms} ms)`);
  t.equal(exit?.code, 0, 'exit code 0');
  await until(() => closes.length === n + 1, 2000);
  t.same([...new Set(closes)], [0x01], 'every session got Close 0x01');
  t.equal(closes.length, n + 1, 'one Close per session');

  const tally = (m: Map<string, number[]>) => {
    const codes: Record<string, number> = {};
    let missing = 0;
    let dup = 0;
    for (const v of m.values()) {
      if (v.length === 0) missing++;
      if (v.length > 1) dup++;
      for (const c of v) codes[`0x${c.toString(16)}`] = (codes[`0x${c.toString(16)}`] ?? 0) + 1;
    }
    return { requests: m.size, missing, dup, codes };
  };
  const d = tally(down);
  const u = tally(up);
  t.equal(d.missing + u.missing, 0, 'every tracked request answered');
  t.equal(d.dup + u.dup, 0, 'none answered twice');
  t.notOk(exit?.stdout.toLowerCase().includes(CENTRAL_KEY.toString('hex')), 'central key not in the logs');
  t.comment(`sigterm: ${JSON.stringify({ objects: n, rounds, answeredBeforeSignal: answeredBefore, down: d, up: u, exitMs: ms, exitCode: exit?.code })}`);
});
