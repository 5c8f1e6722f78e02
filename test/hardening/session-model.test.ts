import t from 'tap';
import fc from 'fast-check';
import { ManualClock } from '../../src/clock.js';
import { CloseCode, Format, ResponseCode, ToT, type Transmission } from '../../src/protocol/index.js';
import { CENTRAL_KEY, testConfig } from '../helpers/config.js';
import { device, startDaemon, type Device } from '../helpers/daemon.js';
import { RawClient } from '../helpers/raw-client.js';
import { size, until } from '../helpers/stress.js';

const KEEP_MS = 45_000;
const REQUEST_MS = 30_000;

// ---- the model: what the daemon must do (PROTOCOL §3 step 7, §5, §6) ----
interface MReq { tracking: number; settled: boolean; timer: Timer }
interface Timer { at: number; seq: number; fire: () => void }
class Model {
  now: number;
  seq = 0;
  session: 'none' | 'connected' | 'kept' = 'none';
  conn = -1; // id of the current connection
  nextConn = 0;
  nextTracking = 0;
  buffer: MReq[] = [];
  keptTimer: Timer | undefined;
  timers: Timer[] = [];
  /** Requests each connection must have received, in order. */
  received = new Map<number, number[]>();
  answered = new Map<number, number>(); // conn → how many of its received it answered
  /** Responses the central must have received, in order. */
  responses: string[] = [];
  constructor(now: number) { this.now = now; }
  timer(ms: number, fire: () => void): Timer {
    const tm = { at: this.now + ms, seq: this.seq++, fire };
    this.timers.push(tm);
    return tm;
  }
  cancel(tm: Timer | undefined) { if (tm) this.timers = this.timers.filter((x) => x !== tm); }
  respond(r: MReq, code: number) { if (!r.settled) { r.settled = true; this.cancel(r.timer); this.responses.push(`${r.tracking}:${code}`); } }
  deliver(r: MReq, conn: number) { this.received.get(conn)!.push(r.tracking); }
  byTracking = new Map<number, MReq>();
  advance(ms: number) {
    const target = this.now + ms;
    for (;;) {
      const due = this.timers.filter((x) => x.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((x) => x !== due);
      this.now = due.at;
      due.fire();
    }
    this.now = target;
  }
  expire() {
    this.session = 'none';
    this.keptTimer = undefined;
    for (const r of this.buffer.splice(0)) this.respond(r, ResponseCode.NOT_FOUND);
  }
  keep() {
    this.session = 'kept';
    this.keptTimer = this.timer(KEEP_MS, () => this.expire());
  }
}

// ---- the real side ----
interface Real {
  clock: ManualClock;
  dev: Device;
  port: number;
  daemon: Awaited<ReturnType<typeof startDaemon>>['daemon'];
  central: RawClient;
  conns: Map<number, RawClient>;
  received: Map<number, number[]>;
  responses: string[];
  centralPongs: { n: number };
}

async function centralSync(r: Real) {
  const before = r.centralPongs.n;
  r.central.send({ type: ToT.PING });
  if (!(await until(() => r.centralPongs.n > before, 5000))) throw new Error('central sync timed out');
}

async function open(r: Real, id: number) {
  const { client, accepted } = await RawClient.open(r.port, r.dev.uid, r.dev.key);
  if (!accepted) throw new Error('object refused');
  const got: number[] = [];
  r.received.set(id, got);
  let pongs = 0;
  const onTransmissions = (...ts: Transmission[]) => {
    for (const x of ts) {
      if (x.type === ToT.REQUEST) got.push(x.tracking);
      if (x.type === ToT.PONG) pongs++;
    }
    return 0;
  };
  const early = client.received.splice(0); // what came in the same read as the accept byte (a replay)
  (client.received as Transmission[]).push = onTransmissions;
  onTransmissions(...early);
  (client as any).sync = async () => {
    const before = pongs;
    client.send({ type: ToT.PING });
    if (!(await until(() => pongs > before, 5000))) throw new Error('object sync timed out');
  };
  r.conns.set(id, client);
  return client;
}

function state(r: Real) { return r.daemon.internals.sessions.get(r.dev.uid)?.state ?? 'none'; }

const executed: Record<string, number> = {};
function check(m: Model, r: Real) {
  if (JSON.stringify(r.responses) !== JSON.stringify(m.responses)) {
    throw new Error(`central responses differ:\n real  ${r.responses.join(' ')}\n model ${m.responses.join(' ')}`);
  }
  for (const [id, exp] of m.received) {
    const got = r.received.get(id) ?? [];
    if (JSON.stringify(got) !== JSON.stringify(exp)) throw new Error(`connection ${id} received ${got.join(',')} but the model says ${exp.join(',')}`);
  }
  if (state(r) !== m.session) throw new Error(`session is ${state(r)}, model says ${m.session}`);
}

type Cmd = fc.AsyncCommand<Model, Real>;

/** Counts the commands that actually ran (check() passed), by kind, for the report. */
function counted(c: Cmd): Cmd {
  return {
    check: (m) => c.check(m),
    run: async (m, r) => {
      const kind = c.toString().split(' ').slice(0, 2).join(' ');
      executed[kind] = (executed[kind] ?? 0) + 1;
      await c.run(m, r);
    },
    toString: () => c.toString(),
  };
}

class Connect implements Cmd {
  check() { return true; }
  async run(m: Model, r: Real) {
    const id = m.nextConn++;
    m.received.set(id, []);
    m.answered.set(id, 0);
    if (m.session === 'kept') {
      m.cancel(m.keptTimer);
      m.keptTimer = undefined;
      for (const q of m.buffer.splice(0)) if (!q.settled) m.deliver(q, id); // PROTOCOL §6: replayed in order, the timed-out ones never
    }
    const old = m.session === 'connected' ? r.conns.get(m.conn) : undefined;
    m.session = 'connected';
    m.conn = id;
    const c = await open(r, id);
    await (c as any).sync();
    if (old) await until(() => old.closed, 5000); // taken over: Close 0xA1 then closed
    check(m, r);
  }
  toString() { return 'connect'; }
}

class Drop implements Cmd {
  check(m: Readonly<Model>) { return m.session === 'connected'; }
  async run(m: Model, r: Real) {
    m.keep();
    r.conns.get(m.conn)!.close();
    await until(() => state(r) === 'kept', 5000);
    check(m, r);
  }
  toString() { return 'drop'; }
}

class ObjectClose implements Cmd {
  constructor(readonly code: number) {}
  check(m: Readonly<Model>) { return m.session === 'connected'; }
  async run(m: Model, r: Real) {
    if (this.code === CloseCode.SLEEP) m.keep();
    else m.session = 'none'; // 0x01 ends it; the buffer is empty while connected
    const c = r.conns.get(m.conn)!;
    c.send({ type: ToT.CLOSE, code: this.code });
    await until(() => state(r) === m.session, 5000);
    await c.whenClosed();
    check(m, r);
  }
  toString() { return `close 0x${this.code.toString(16)}`; }
}

class CentralRequest implements Cmd {
  check() { return true; }
  async run(m: Model, r: Real) {
    const tracking = m.nextTracking++;
    if (m.session === 'none') {
      m.responses.push(`${tracking}:${ResponseCode.NOT_FOUND}`);
    } else {
      const q: MReq = { tracking, settled: false, timer: undefined as unknown as Timer };
      q.timer = m.timer(REQUEST_MS, () => m.respond(q, ResponseCode.TIMEOUT));
      if (m.session === 'connected') m.deliver(q, m.conn);
      else m.buffer.push(q);
      m.byTracking.set(tracking, q);
    }
    r.central.send({ type: ToT.REQUEST, uid: r.dev.uid, tracking, payload: { format: Format.ASCII, options: 0, data: Buffer.from(`q${tracking}`) } });
    await centralSync(r);
    if (m.session === 'connected') await (r.conns.get(m.conn) as any).sync();
    check(m, r);
  }
  toString() { return 'request'; }
}

class ObjectAnswer implements Cmd {
  check(m: Readonly<Model>) {
    return m.session === 'connected' && (m.answered.get(m.conn) ?? 0) < (m.received.get(m.conn)?.length ?? 0);
  }
  async run(m: Model, r: Real) {
    const n = m.answered.get(m.conn)!;
    const tracking = m.received.get(m.conn)![n]!;
    m.answered.set(m.conn, n + 1);
    m.respond(m.byTracking.get(tracking)!, ResponseCode.VALID); // late (already 0xA1): dropped, nothing more
    const c = r.conns.get(m.conn)!;
    c.send({ type: ToT.RESPONSE, tracking, code: ResponseCode.VALID, payload: { format: Format.ASCII, options: 0, data: Buffer.from('ok') } });
    await (c as any).sync();
    await centralSync(r);
    check(m, r);
  }
  toString() { return 'answer'; }
}

class Advance implements Cmd {
  constructor(readonly ms: number) {}
  check() { return true; }
  async run(m: Model, r: Real) {
    m.advance(this.ms);
    r.clock.advance(this.ms);
    await centralSync(r);
    await until(() => state(r) === m.session, 5000);
    check(m, r);
  }
  toString() { return `advance ${this.ms}`; }
}

t.test('model-based: sessions, kept sessions, buffers, timeouts and takeover against the real daemon', async (t) => {
  const clock = new ManualClock();
  const pool = Array.from({ length: 4000 }, (_, i) => device(`m-${i}`, 'Stations'));
  const d = await startDaemon(t, testConfig(t, {
    keepSessionSec: KEEP_MS / 1000, tcp: { requestTimeoutSec: REQUEST_MS / 1000, handshakeTimeoutSec: 3600 },
    limits: { acceptPerSec: 1e9 }, buffers: { maxPerSession: 10_000, maxBytesPerSession: 1 << 24 },
  }), pool, { clock, logLevel: 'warn' });
  const central = (await RawClient.open(d.port, '', CENTRAL_KEY)).client;
  t.teardown(() => central.close());
  const centralPongs = { n: 0 };
  let sink: string[] = [];
  let currentUid = '';
  (central.received as Transmission[]).push = (...ts: Transmission[]) => {
    for (const x of ts) {
      if (x.type === ToT.PONG) centralPongs.n++;
      else if (x.type === ToT.RESPONSE && x.uid === currentUid) sink.push(`${x.tracking}:${x.code}`);
    }
    return 0;
  };

  let next = 0;
  const runs = size(30, 500);
  const t0 = Date.now();
  const stats = { runs: 0, requests: 0 };
  await fc.assert(fc.asyncProperty(
    fc.commands<Model, Real>([
      fc.constant(new Connect()),
      fc.constant(new Drop()),
      fc.constantFrom(new ObjectClose(CloseCode.SLEEP), new ObjectClose(CloseCode.MAINTENANCE)),
      fc.constant(new CentralRequest()),
      fc.constant(new CentralRequest()),
      fc.constant(new ObjectAnswer()),
      fc.constant(new ObjectAnswer()),
      fc.constant(new ObjectAnswer()),
      fc.constantFrom(...[1_000, 5_000, 15_000, 29_999, 30_000, 45_000].map((ms) => new Advance(ms))),
    ], { maxCommands: size(30, 80), size: 'large' }),
    async (cmds) => {
      if (next >= pool.length) throw new Error('device pool exhausted');
      const dev = pool[next++]!;
      currentUid = dev.uid;
      sink = [];
      const real: Real = { clock, dev, port: d.port, daemon: d.daemon, central, conns: new Map(), received: new Map(), responses: sink, centralPongs };
      const model = new Model(clock.now());
      try {
        await fc.asyncModelRun(() => ({ model, real }), [...cmds].map((c) => counted(c as Cmd)));
        // Let everything settle: each request ends with exactly one response, as the model says.
        await new Advance(KEEP_MS + REQUEST_MS).run(model, real);
        const codes = model.responses.map((x) => x.split(':')[0]);
        if (new Set(codes).size !== model.nextTracking || codes.length !== model.nextTracking) throw new Error(`not exactly one answer per request: ${model.responses.join(' ')}`);
        stats.runs++;
        stats.requests += model.nextTracking;
      } finally {
        for (const c of real.conns.values()) c.close();
      }
    },
  ), { numRuns: runs, seed: STRESS_SEED });
  t.equal(d.daemon.internals.tracker.size, 0, 'nothing left tracked');
  t.equal(d.daemon.internals.sessions.budget.used, 0, 'buffer budget returned');
  t.comment(`session model: ${JSON.stringify({ ...stats, executed, ms: Date.now() - t0 })}; 0 losses, duplicates or reorderings`);
});

const STRESS_SEED = Number(process.env.IOTS_SEED ?? 20261122);
