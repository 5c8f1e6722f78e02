import t from 'tap';
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { Format, ResponseCode, ToT, encodeInitiation } from '../../src/protocol/index.js';
import { BIN, cleanEnv, ensureBuilt, plainSpawn } from '../helpers/cli.js';
import { cliFiles, isListening, portOf } from '../helpers/cli-daemon.js';
import { CENTRAL_KEY } from '../helpers/config.js';
import { device } from '../helpers/daemon.js';
import { RawClient } from '../helpers/raw-client.js';
import { pool, size, sleep, until } from '../helpers/stress.js';

const LIMIT = 256;

/**
 * What became of one extra connection: the initiation answered, closed/reset, or no answer.
 * Past the limit libuv's reserve-descriptor trick accepts and closes pending clients at once,
 * so they fail fast ('closed') rather than hang; the server never sees an 'error' event.
 */
function probe(port: number, sockets: Socket[]): Promise<'answered' | 'closed' | 'silent'> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    sockets.push(s);
    s.on('error', () => {});
    let got = 0;
    const timer = setTimeout(() => resolve('silent'), 1000);
    s.on('data', (b: Buffer) => { got += b.length; if (got >= 2) { clearTimeout(timer); resolve('answered'); } });
    s.once('close', () => { clearTimeout(timer); resolve(got >= 2 ? 'answered' : 'closed'); });
    s.once('connect', () => s.write(encodeInitiation({ tls: false, version: 1, options: 0, maxTransmissionLength: 0 })));
  });
}

async function roundTrip(central: RawClient, obj: RawClient, uid: string, tracking: number): Promise<boolean> {
  central.send({ type: ToT.REQUEST, uid, tracking, payload: { format: Format.ASCII, options: 0, data: Buffer.from('still there?') } });
  const req = await obj.nextOf(ToT.REQUEST, 5000);
  obj.send({ type: ToT.RESPONSE, tracking: req.tracking, code: ResponseCode.VALID, payload: req.payload });
  const res = await central.nextOf(ToT.RESPONSE, 5000);
  return res.tracking === tracking && res.code === ResponseCode.VALID;
}

t.test(`ulimit -n ${LIMIT}: accept fails past the limit, existing sessions keep working, accept resumes when descriptors free up`, async (t) => {
  ensureBuilt();
  const devs = [device('fd-a', 'Stations'), device('fd-b', 'Stations')];
  const dir = t.testdir(cliFiles(devs));
  const run = plainSpawn(['bash', '-c', `ulimit -n ${LIMIT} && exec "${process.execPath}" "${BIN}" start -c c.yaml`], cleanEnv());
  const child = spawn(run.file, run.args, { cwd: dir, env: run.env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => void child.kill('SIGKILL'));
  const lines: Array<Record<string, any>> = [];
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  let port = 0;
  createInterface({ input: child.stdout }).on('line', (l) => {
    try {
      const o = JSON.parse(l) as Record<string, any>;
      lines.push(o);
      if (isListening(o)) port = portOf(o);
    } catch { /* not JSON */ }
  });
  t.ok(await until(() => port > 0, 10_000), 'listening');

  const central = (await RawClient.open(port, '', CENTRAL_KEY)).client;
  const a = (await RawClient.open(port, devs[0]!.uid, devs[0]!.key)).client;
  t.teardown(() => { central.close(); a.close(); });

  const extra = size(LIMIT + 50, LIMIT * 2);
  const sockets: Socket[] = [];
  t.teardown(() => sockets.forEach((s) => s.destroy()));
  const outcome: Record<string, number> = { answered: 0, closed: 0, silent: 0 };
  await pool(Array.from({ length: extra }), 32, async () => { outcome[await probe(port, sockets)]!++; });
  t.ok(outcome.answered! < extra, `the daemon ran out of descriptors (${JSON.stringify(outcome)})`);
  t.ok(outcome.answered! > LIMIT / 2, 'after serving most of what its limit allows');
  t.ok(await roundTrip(central, a, devs[0]!.uid, 1), 'existing sessions keep working while accept fails');

  for (const s of sockets) s.destroy();
  await sleep(300);
  let back: { client: RawClient; accepted: boolean } | undefined;
  for (let i = 0; i < 20 && !back; i++) {
    back = await RawClient.open(port, devs[1]!.uid, devs[1]!.key).catch(() => undefined);
    if (!back) await sleep(100);
  }
  t.teardown(() => back?.client.close());
  t.ok(back?.accepted, 'once descriptors are free a new device authenticates');
  if (back) t.ok(await roundTrip(central, back.client, devs[1]!.uid, 2), 'and is served');
  t.ok(await roundTrip(central, a, devs[0]!.uid, 3), 'the old session is still served');
  t.equal(child.exitCode, null, 'the daemon never exited');
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'SIGTERM: exit 0');
  t.notMatch(stderr, /EMFILE|Error/, 'nothing on stderr');
  t.comment(`fd exhaustion: ulimit -n ${LIMIT}, ${extra} extra connections: ${JSON.stringify(outcome)}; 'closed' = shed by libuv (EMFILE: it frees a reserve descriptor, accepts and closes the pending clients; no 'error' event reaches JS, so the daemon cannot log it)`);
});
