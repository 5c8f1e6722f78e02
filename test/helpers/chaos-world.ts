import { setTimeout as sleep } from 'node:timers/promises';
import type { Test } from 'tap';
import { Agent } from 'undici';
import { CENTRAL_UID } from '../../src/protocol/index.js';
import { CentralClient, ClientErrorCode, ObjectClient, decodePayloadJson, json, type CloseEvent, type ResponseResult } from '../../src/client/index.js';
import type { ClusterConfig } from '../../src/config/types.js';
import { CENTRAL_KEY, testConfig } from './config.js';
import { device, startDaemon, type Device } from './daemon.js';
import { call, type HttpAnswer } from './http.js';
import { RedisServer } from './redis.js';
import { until } from './until.js';
import { ChaosModel, Rng, type Kind, type SentRequest, type Verdict } from './chaos-model.js';

/**
 * The world a chaos run drives (issue 11 §3): three in-process nodes on one real redis-server,
 * objects and one TCP central (SDK clients) moving between them, HTTP callers at random nodes;
 * nodes killed (destroy(): no goodbye, the lease lapses) and restarted with the same id on new
 * ports, Redis killed and restarted (AOF). Real time throughout: leases expire by Redis's clock.
 */

const REQUEST_TIMEOUT_SEC = 3;
/** The daemon's BACKSTOP_GRACE_MS: a remote origin answers this long after the timeout at the latest. */
const BACKSTOP_GRACE_MS = 2_000;
/** A caller waits this long for its one answer before the model calls the request lost. */
export const ANSWER_DEADLINE_MS = REQUEST_TIMEOUT_SEC * 1000 + BACKSTOP_GRACE_MS + 3_000;
/** An answerer told to wait this long answers after the request timeout: 0xA1 is its expected answer. */
const SLOW_MS = REQUEST_TIMEOUT_SEC * 1000 + 1_500;
const OBJECTS = 5;
const NODES = ['n0', 'n1', 'n2'];
const HEAL_MS = 15_000;

export interface ChaosOptions {
  readonly seed: number;
  /** Each round: `steps` chaos actions with traffic, then healing and `quietRequests` requests with nothing failing. */
  readonly rounds: number;
  readonly steps: number;
  readonly quietRequests: number;
  /** Chaos steps stop early past this (the run still heals, sends its quiet traffic and settles). */
  readonly wallMs: number;
}

export interface ChaosReport {
  readonly verdict: Verdict;
  readonly actions: Record<string, number>;
  readonly elapsedMs: number;
  /** Error-level log lines of every node, by event. */
  readonly nodeErrors: Record<string, number>;
  readonly requests: number;
  /** What the run did, with times since its start: for a failure's report. */
  readonly trace: string[];
}

type Action = 'traffic' | 'move-object' | 'move-central' | 'kill-node' | 'restart-node' | 'restart-redis';

interface Node {
  readonly id: string;
  d?: Awaited<ReturnType<typeof startDaemon>>;
  alive: boolean;
  /** Bumped at every kill: an HTTP call made before it may fail with its node. */
  lives: number;
}

interface Conn {
  readonly tag: string;
  readonly node: Node;
  readonly life: number;
  client: ObjectClient | CentralClient;
  closed: boolean;
  /** Why the test expects this connection to end: it dropped it, or opened a newer one elsewhere. */
  expectedEnd?: 'dropped' | 'taken-over';
}

interface Entity {
  /** An object UID, or 'central'. */
  readonly name: string;
  readonly device?: Device;
  current?: Conn;
  gen: number;
  /** A move or a reconnect loop is under way: nothing else opens a connection for it. */
  busy: boolean;
}

export async function runChaos(t: Test, o: ChaosOptions): Promise<ChaosReport> {
  const began = Date.now();
  const model = new ChaosModel(() => Date.now() - began);
  const w = new World(t, o, model);
  // Registered before Redis starts: clients and nodes go first, whichever order tap runs teardowns in.
  t.teardown(() => w.stop());
  await w.start(await RedisServer.start(t));
  for (let round = 0; round < o.rounds; round++) {
    for (let step = 0; step < o.steps && Date.now() - began < o.wallMs; step++) await w.chaosStep();
    await w.heal();
    await w.quietTraffic(o.quietRequests);
  }
  await w.settle();
  return { verdict: model.verdict(), actions: w.actions, elapsedMs: Date.now() - began, nodeErrors: w.nodeErrors(), requests: model.size, trace: w.trace };
}

class World {
  readonly actions: Record<string, number> = {};
  readonly trace: string[] = [];
  readonly #t: Test;
  readonly #o: ChaosOptions;
  readonly #m: ChaosModel;
  #redis!: RedisServer;
  #redisUp = true;
  /** The run's choices; `#bg` is for background reconnects, whose timing is not the seed's to fix. */
  readonly #rng: Rng;
  readonly #bg: Rng;
  readonly #nodes: Node[] = NODES.map((id) => ({ id, alive: false, lives: 0 }));
  readonly #devices: Device[] = Array.from({ length: OBJECTS }, (_, i) => device(`chaos-${i}`));
  readonly #objects: Entity[] = this.#devices.map((d) => ({ name: d.uid, device: d, gen: 0, busy: false }));
  readonly #central: Entity = { name: 'central', gen: 0, busy: false };
  readonly #pending = new Set<Promise<void>>();
  readonly #clients = new Set<ObjectClient | CentralClient>();
  readonly #started: Array<NonNullable<Node['d']>> = [];
  readonly #agent = new Agent({ keepAliveTimeout: 1_000 });
  readonly #keyPrefix: string;
  #stopped = false;

  constructor(t: Test, o: ChaosOptions, model: ChaosModel) {
    this.#t = t;
    this.#o = o;
    this.#m = model;
    model.onViolation = (what) => this.#log(`VIOLATION ${what}`);
    this.#rng = new Rng(o.seed);
    this.#bg = new Rng(o.seed ^ 0x9e3779b9);
    this.#keyPrefix = `chaos${o.seed}:`;
  }

  async start(redis: RedisServer): Promise<void> {
    this.#redis = redis;
    for (const n of this.#nodes) await this.#startNode(n);
    for (const e of [this.#central, ...this.#objects]) await this.#open(e, this.#rng.pick(this.#nodes));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const c of this.#clients) c.destroy();
    await this.#agent.destroy();
    await Promise.all(this.#nodes.map((n) => (n.alive ? n.d!.daemon.close() : undefined)));
  }

  #log(what: string): void {
    this.trace.push(`+${this.#m.now()} ${what}`);
  }

  nodeErrors(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const d of this.#started) for (const l of d.logs.lines) out[l.event ?? l.msg] = (out[l.event ?? l.msg] ?? 0) + 1;
    return out;
  }

  // ---- the run ----

  async chaosStep(): Promise<void> {
    const live = this.#live();
    const action = this.#rng.weighted<Action>({
      'traffic': 20,
      'move-object': 25,
      'move-central': 10,
      'kill-node': live.length === NODES.length && this.#redisUp ? 8 : 0,
      'restart-node': live.length < NODES.length && this.#redisUp ? 12 : 0,
      'restart-redis': this.#redisUp ? 6 : 0,
    });
    this.actions[action] = (this.actions[action] ?? 0) + 1;
    await this.#act(action);
    this.#burst(this.#rng.int(2, 5), false);
    await sleep(this.#rng.int(50, 300));
  }

  /** Everything back: Redis up, every node running, every client connected and routable. */
  async heal(): Promise<void> {
    this.#log('heal');
    if (!this.#redisUp) await this.#resumeRedis();
    for (const n of this.#nodes) if (!n.alive) await this.#startNode(n);
    for (const e of [this.#central, ...this.#objects]) if (!e.current && !e.busy) this.#reconnectSoon(e);
    const all = [this.#central, ...this.#objects];
    try {
      await until(() => all.every((e) => e.current?.client.connected === true), 'every client connected again', HEAL_MS);
      await until(async () => (await this.#unroutable()).length === 0, 'every node live and every client routable', HEAL_MS);
    } catch (err) {
      this.#m.violation(`not healed within ${HEAL_MS} ms: ${(err as Error).message}; ${(await this.#unroutable()).join('; ')}`);
    }
  }

  /** Requests with nothing failing: the success floor is measured on these. */
  async quietTraffic(n: number): Promise<void> {
    this.#log(`quiet traffic: ${n} requests`);
    for (let i = 0; i < n; i++) {
      this.#burst(1, true);
      await sleep(this.#rng.int(5, 40));
    }
  }

  /** Bounded: every caller has its own deadline; then what the nodes track must drain. */
  async settle(): Promise<void> {
    const guard = sleep(ANSWER_DEADLINE_MS + 5_000).then(() => 'timeout' as const);
    if ((await Promise.race([Promise.allSettled([...this.#pending]), guard])) === 'timeout') this.#m.violation('requests still unsettled past every deadline');
    try {
      await until(() => this.#live().every((n) => n.d!.daemon.internals.tracker.size === 0 && n.d!.daemon.internals.fleet!.pendingRemote.waits === 0), 'every live node\'s tracker and waits empty', 10_000);
    } catch {
      this.#m.violation(`left tracked after settling: ${this.#live().map((n) => `${n.id} tracker ${n.d!.daemon.internals.tracker.size}, waits ${n.d!.daemon.internals.fleet!.pendingRemote.waits}`).join('; ')}`);
    }
  }

  async #act(action: Action): Promise<void> {
    switch (action) {
      case 'traffic':
        return;
      case 'move-object':
        return this.#move(this.#rng.pick(this.#objects));
      case 'move-central':
        return this.#move(this.#central);
      case 'kill-node': {
        const n = this.#rng.pick(this.#live());
        n.alive = false;
        n.lives++;
        n.d!.daemon.destroy();
        this.#log(`kill ${n.id}`);
        return;
      }
      case 'restart-node':
        return this.#startNode(this.#rng.pick(this.#nodes.filter((n) => !n.alive)));
      case 'restart-redis': {
        await this.#redis.stop();
        this.#redisUp = false;
        // Now shorter, now longer than the lease (2 s): a node may lapse and be reaped meanwhile.
        const pause = this.#rng.int(200, 2_800);
        this.#log(`redis stopped for ${pause} ms`);
        this.#burst(this.#rng.int(2, 4), false);
        await sleep(pause);
        this.#burst(this.#rng.int(1, 3), false);
        return this.#resumeRedis();
      }
    }
  }

  /** Moves a client to another live node: dropped then reconnected, or a takeover (the new connection first). */
  async #move(e: Entity): Promise<void> {
    const c = e.current;
    const to = this.#live().filter((n) => n !== c?.node);
    if (!c || e.busy || to.length === 0) return;
    const node = this.#rng.pick(to);
    const takeover = this.#rng.chance(0.5);
    this.#log(`move ${c.tag} to ${node.id} (${takeover ? 'takeover' : 'drop, then connect'})`);
    e.busy = true;
    try {
      if (takeover) {
        c.expectedEnd = 'taken-over';
        try {
          await this.#open(e, node);
        } catch {
          if (!c.closed) c.expectedEnd = undefined;
        }
      } else {
        c.expectedEnd = 'dropped';
        c.client.destroy();
        await sleep(this.#rng.int(0, 300));
        await this.#open(e, node).catch(() => {});
      }
    } finally {
      e.busy = false;
      if (!e.current) this.#reconnectSoon(e);
    }
  }

  // ---- nodes, Redis, clients ----

  #live(): Node[] {
    return this.#nodes.filter((n) => n.alive);
  }

  #cluster(nodeId: string): ClusterConfig {
    return { redis: this.#redis.url, nodeId, keyPrefix: this.#keyPrefix, commandTimeoutMs: 500, heartbeatSec: 1, leaseSec: 2 };
  }

  async #startNode(n: Node): Promise<void> {
    const config = testConfig(this.#t, { cluster: this.#cluster(n.id), http: { enabled: true }, tcp: { requestTimeoutSec: REQUEST_TIMEOUT_SEC }, keepSessionSec: 30 });
    n.d = await startDaemon(this.#t, config, this.#devices, { logLevel: 'error' });
    this.#started.push(n.d);
    n.alive = true;
    this.#log(`start ${n.id} (tcp ${n.d.port})`);
  }

  async #resumeRedis(): Promise<void> {
    await this.#redis.resume();
    this.#redisUp = true;
    this.#log('redis resumed');
  }

  /** What keeps the world from being routable: a node not live, a client not connected where the directory says. */
  async #unroutable(): Promise<string[]> {
    const out: string[] = [];
    for (const n of this.#live()) if (!n.d!.daemon.internals.fleet!.live) out.push(`${n.id} not live`);
    const dir = this.#live()[0]?.d!.daemon.internals.fleet!.engines.directory;
    for (const e of [this.#central, ...this.#objects]) {
      const c = e.current;
      if (!c?.client.connected) {
        out.push(`${e.name} not connected`);
        continue;
      }
      const entry = await dir?.lookup(e.device?.uid ?? CENTRAL_UID).catch(() => undefined);
      if (entry?.state !== 'connected' || entry.node !== c.node.id) out.push(`${e.name} on ${c.node.id}, directory: ${entry ? `${entry.state} at ${entry.node}` : 'none'}`);
    }
    return out;
  }

  /** Opens a connection for `e` at `node`; on success it is `e`'s current one. */
  async #open(e: Entity, node: Node): Promise<Conn> {
    const tag = `${e.name}#${++e.gen}@${node.id}`;
    const base = { host: '127.0.0.1', port: node.d!.port, reconnect: false, requestTimeoutMs: ANSWER_DEADLINE_MS, handshakeTimeoutMs: 3_000 } as const;
    const client = e.device
      ? new ObjectClient({ ...base, uid: e.device.uid, key: e.device.key, handler: (req) => this.#answer(e.name, tag, req.payload) })
      : new CentralClient({ ...base, key: CENTRAL_KEY, handler: (req) => this.#answer('central', tag, req.payload, req.uid) });
    const conn: Conn = { tag, node, life: node.lives, client, closed: false };
    this.#clients.add(client);
    client.on('error', () => {});
    client.on('close', (ev: CloseEvent) => this.#closed(e, conn, ev));
    try {
      await client.connect();
    } catch (err) {
      this.#clients.delete(client);
      client.destroy();
      throw err;
    }
    e.current = conn;
    this.#log(`${tag} connected`);
    return conn;
  }

  #closed(e: Entity, c: Conn, ev: CloseEvent): void {
    c.closed = true;
    this.#log(`${c.tag} closed (code ${ev.code ?? 'none'}, remote ${ev.remote})`);
    this.#clients.delete(c.client);
    const nodeDied = !c.node.alive || c.node.lives !== c.life;
    if (!this.#stopped && !nodeDied) {
      if (c.expectedEnd === 'taken-over' && ev.code !== 0xa1) this.#m.violation(`${c.tag} taken over by the test's newer connection, closed with ${ev.code} (remote ${ev.remote}), not 0xA1`);
      if (!c.expectedEnd) this.#m.violation(`unexpected close of ${c.tag}: code ${ev.code === undefined ? 'none' : `0x${ev.code.toString(16)}`}, remote ${ev.remote}`);
    }
    if (e.current !== c) return;
    e.current = undefined;
    if (!e.busy) this.#reconnectSoon(e);
  }

  /** In the background: to a random live node, until connected (bounded). */
  #reconnectSoon(e: Entity): void {
    if (e.busy || this.#stopped) return;
    e.busy = true;
    this.#track((async () => {
      try {
        for (let i = 0; i < 80 && !this.#stopped && !e.current; i++) {
          await sleep(this.#bg.int(100, 300));
          const live = this.#live();
          if (live.length === 0) continue;
          await this.#open(e, this.#bg.pick(live)).catch(() => {});
        }
      } finally {
        e.busy = false;
      }
    })());
  }

  /** What every answerer does: records the hand-over, waits if told to, answers naming the request and itself. */
  async #answer(by: string, conn: string, payload: ResponseResult['payload'], from?: string): Promise<{ code: number; payload: ReturnType<typeof json> }> {
    let body: { id?: unknown; delay?: number };
    try {
      body = decodePayloadJson(payload);
    } catch {
      this.#m.violation(`${conn} handed a payload that is not the test's JSON`);
      return { code: 0x01, payload: json(null) };
    }
    this.#m.seen(body.id, by, conn, from);
    if (body.delay) await sleep(body.delay);
    return { code: 0, payload: json({ id: body.id, by }) };
  }

  // ---- traffic ----

  #burst(n: number, quiet: boolean): void {
    for (let i = 0; i < n; i++) {
      const kind = this.#rng.weighted<Kind>({ 'central-tcp': 4, 'central-http': 3, 'object-up': 3 });
      const obj = this.#rng.pick(this.#objects);
      const delay = this.#delay(quiet);
      if (kind === 'central-tcp') this.#viaCentral(obj.device!.uid, delay, quiet);
      else if (kind === 'central-http') this.#viaHttp(obj.device!.uid, delay, quiet);
      else this.#fromObject(obj, delay, quiet);
    }
  }

  #delay(quiet: boolean): number {
    const r = this.#rng.next();
    if (r < 0.6) return 0;
    if (quiet || r < 0.93) return this.#rng.int(1, quiet ? 150 : 400);
    return SLOW_MS;
  }

  #viaCentral(uid: string, delay: number, quiet: boolean): void {
    const c = this.#central.current;
    if (!c?.client.connected) return;
    const req = this.#m.sent({ id: this.#m.nextId('t'), kind: 'central-tcp', target: uid, sender: 'central', conn: c.tag, quiet, slow: delay >= SLOW_MS });
    this.#track((c.client as CentralClient).request(uid, json({ id: req.id, delay }), { timeoutMs: ANSWER_DEADLINE_MS })
      .then((r) => this.#tcpAnswer(req, r), (err) => this.#tcpFailed(req, err)));
  }

  #fromObject(e: Entity, delay: number, quiet: boolean): void {
    const c = e.current;
    if (!c?.client.connected) return;
    const req = this.#m.sent({ id: this.#m.nextId('u'), kind: 'object-up', target: '', sender: e.name, conn: c.tag, quiet, slow: delay >= SLOW_MS });
    this.#track((c.client as ObjectClient).request(json({ id: req.id, delay }), { timeoutMs: ANSWER_DEADLINE_MS })
      .then((r) => this.#tcpAnswer(req, r), (err) => this.#tcpFailed(req, err)));
  }

  #viaHttp(uid: string, delay: number, quiet: boolean): void {
    const live = this.#live();
    if (live.length === 0) return;
    const node = this.#rng.pick(live);
    const life = node.lives;
    const base = `http://127.0.0.1:${node.d!.daemon.addresses!.http!.port}`;
    const req = this.#m.sent({ id: this.#m.nextId('h'), kind: 'central-http', target: uid, sender: 'http', conn: `http@${node.id}`, quiet, slow: delay >= SLOW_MS });
    const body = { UID: uid, Timeout: REQUEST_TIMEOUT_SEC, Format: 'JSON', Payload: { id: req.id, delay } };
    this.#track(call(base, '/request', body, { dispatcher: this.#agent, signal: AbortSignal.timeout(ANSWER_DEADLINE_MS) })
      .then((r) => this.#httpAnswer(req, r), (err: Error) => {
        if (node.lives !== life) return this.#m.answered(req.id, { type: 'abandoned', why: 'the node it was posted to was killed' });
        this.#m.answered(req.id, { type: 'lost', why: err.name === 'TimeoutError' ? `no HTTP answer within ${ANSWER_DEADLINE_MS} ms` : `HTTP transport failed at a live node: ${err.message}` });
      }));
  }

  #tcpAnswer(req: SentRequest, r: ResponseResult): void {
    if (r.code === 0) {
      let body: { id?: unknown; by?: unknown } = {};
      try {
        body = decodePayloadJson(r.payload);
      } catch { /* judged below: it carries no id */ }
      return this.#m.success(req.id, body.id, body.by);
    }
    if ([0xa0, 0xa1, 0xa2, 0x01].includes(r.code) && r.payload.data.length === 0) return this.#m.answered(req.id, { type: 'refused', code: r.code, reason: 'tcp' }, true);
    this.#m.answered(req.id, { type: 'wrong', why: `code ${r.code}` });
    this.#m.violation(`${req.id}: unexpected answer code 0x${r.code.toString(16)} with ${r.payload.data.length} payload bytes`);
  }

  #tcpFailed(req: SentRequest, err: { code?: string; message?: string }): void {
    if (err.code === ClientErrorCode.CLOSED) return this.#m.answered(req.id, { type: 'abandoned', why: 'its connection ended' });
    if (err.code === ClientErrorCode.TIMEOUT) return this.#m.answered(req.id, { type: 'lost', why: `no answer within ${ANSWER_DEADLINE_MS} ms` });
    this.#m.answered(req.id, { type: 'lost', why: `request failed: ${err.message}` });
  }

  #httpAnswer(req: SentRequest, r: HttpAnswer): void {
    const j = r.json as { Code?: number; Payload?: { id?: unknown; by?: unknown } | null; Reason?: string } | undefined;
    if (r.status === 200 && j?.Code === 0 && j.Reason === undefined) return this.#m.success(req.id, j.Payload?.id, j.Payload?.by);
    if (r.status === 200 && typeof j?.Reason === 'string' && typeof j.Code === 'number') return this.#m.answered(req.id, { type: 'refused', code: j.Code, reason: j.Reason }, true);
    if (r.status === 503 && typeof j?.Reason === 'string') return this.#m.answered(req.id, { type: 'refused', code: 503, reason: j.Reason }, true);
    this.#m.answered(req.id, { type: 'wrong', why: `HTTP ${r.status}` });
    this.#m.violation(`${req.id}: unexpected HTTP answer ${r.status} ${r.text.slice(0, 200)}`);
  }

  #track(p: Promise<unknown>): void {
    const q = p.then(() => {}, (err: unknown) => this.#m.violation(`the test's own bookkeeping failed: ${String(err)}`));
    this.#pending.add(q);
    void q.then(() => this.#pending.delete(q));
  }
}
