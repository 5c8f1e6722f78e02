import { setTimeout as sleep } from 'node:timers/promises';
import { CentralClient, ObjectClient, decodePayloadJson, json, type CloseEvent } from '../../src/client/index.js';
import type { Payload } from '../../src/protocol/index.js';
import type { ChaosModel, Rng } from './chaos-model.js';
import { CENTRAL_KEY } from './config.js';
import type { Device } from './daemon.js';
import type { Disturbances } from './disturbances.js';
import type { SoakNode } from './soak-node.js';
import type { TelemetryLedger } from './telemetry-ledger.js';

/** After an object or the central reconnected: what was in flight on its old connection settles. */
const MOVE_GRACE_MS = 5_000;

export type MoveKind = 'takeover' | 'drop' | 'sleep' | 'end';

export interface Conn {
  readonly tag: string;
  readonly node: SoakNode;
  readonly life: number;
  readonly client: ObjectClient | CentralClient;
  closed: boolean;
  /** Why the test expects this connection to end: it dropped it, opened a newer one elsewhere, or ended every session. */
  expectedEnd?: 'dropped' | 'taken-over' | 'ending';
}

export interface Entity {
  /** An object UID, or 'central'. */
  readonly name: string;
  readonly device?: Device;
  current?: Conn;
  gen: number;
  /** A move or a reconnect loop is under way: nothing else opens a connection for it. */
  busy: boolean;
  /** Ends its disturbance window (opened when its connection ended), once it is connected again. */
  settled?: () => void;
}

/** What the clients need of the world they live in. */
export interface ClientsWorld {
  readonly model: ChaosModel;
  readonly dist: Disturbances;
  readonly ledger: TelemetryLedger;
  /** Background reconnects: their timing is not the seed's to fix. */
  readonly bg: Rng;
  readonly answerDeadlineMs: number;
  live(): SoakNode[];
  log(what: string): void;
  track(p: Promise<unknown>): void;
  stopped(): boolean;
}

/**
 * The soak's SDK clients: objects that echo each request's id and their UID, and the TCP central
 * (which counts the telemetry it is handed). Each connection ending unplanned (its node killed)
 * reconnects to a random live node; a close the test did not cause is a violation. While a client
 * is away its name is a disturbance scope (test/helpers/disturbances.ts).
 */
export class SoakClients {
  readonly objects: Entity[];
  readonly central: Entity = { name: 'central', gen: 0, busy: false };
  readonly #w: ClientsWorld;
  readonly #clients = new Set<ObjectClient | CentralClient>();

  constructor(devices: readonly Device[], w: ClientsWorld) {
    this.objects = devices.map((d) => ({ name: d.uid, device: d, gen: 0, busy: false }));
    this.#w = w;
  }

  get all(): Entity[] {
    return [this.central, ...this.objects];
  }

  /** Ends every session (Close 0x01): nothing reconnects after it. */
  async endAll(): Promise<void> {
    for (const e of this.all) {
      const c = e.current;
      if (!c) continue;
      c.expectedEnd = 'ending';
      await c.client.close(0x01).catch(() => {});
    }
  }

  destroyAll(): void {
    for (const c of this.#clients) c.destroy();
  }

  /** Moves `e` to `node`: a takeover (the new connection first), a drop, a sleep (Close 0xA0) or an end (Close 0x01), then reconnects after `pauseMs`. */
  async move(e: Entity, node: SoakNode, how: MoveKind, pauseMs: number): Promise<void> {
    const c = e.current;
    if (!c || e.busy) return;
    e.busy = true;
    e.settled ??= this.#w.dist.begin(e.name, `${e.name} moving (${how})`, MOVE_GRACE_MS);
    try {
      if (how === 'takeover') {
        c.expectedEnd = 'taken-over';
        try {
          await this.open(e, node);
        } catch {
          if (!c.closed) c.expectedEnd = undefined;
        }
      } else {
        c.expectedEnd = 'dropped';
        if (how === 'drop') c.client.destroy();
        else await c.client.close(how === 'sleep' ? 0xa0 : 0x01);
        await sleep(pauseMs);
        await this.open(e, node).catch(() => {});
      }
    } finally {
      e.busy = false;
      if (!e.current) this.#reconnectSoon(e);
    }
  }

  async open(e: Entity, node: SoakNode): Promise<Conn> {
    const tag = `${e.name}#${++e.gen}@${node.id}.${node.life}`;
    const base = { host: '127.0.0.1', port: node.tcp, reconnect: false, requestTimeoutMs: this.#w.answerDeadlineMs, handshakeTimeoutMs: 5_000 } as const;
    const client = e.device
      ? new ObjectClient({ ...base, uid: e.device.uid, key: e.device.key, handler: (req) => this.#answer(e.name, tag, req.payload) })
      : new CentralClient({ ...base, key: CENTRAL_KEY });
    if (client instanceof CentralClient) client.on('telemetry', (ev: { uid: string; payload: Payload }) => this.#w.ledger.atCentral(ev.uid, ev.payload));
    const conn: Conn = { tag, node, life: node.life, client, closed: false };
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
    e.settled?.();
    e.settled = undefined;
    this.#w.log(`${tag} connected`);
    return conn;
  }

  #closed(e: Entity, c: Conn, ev: CloseEvent): void {
    c.closed = true;
    this.#clients.delete(c.client);
    const nodeDied = !c.node.alive || c.node.life !== c.life;
    this.#w.log(`${c.tag} closed (code ${ev.code ?? 'none'}, remote ${ev.remote}${nodeDied ? ', its node died' : ''})`);
    if (!this.#w.stopped() && !nodeDied) {
      if (c.expectedEnd === 'taken-over' && ev.code !== 0xa1) this.#w.model.violation(`${c.tag} taken over by the test's newer connection, closed with ${ev.code} (remote ${ev.remote}), not 0xA1`);
      if (!c.expectedEnd) this.#w.model.violation(`unexpected close of ${c.tag}: code ${ev.code === undefined ? 'none' : `0x${ev.code.toString(16)}`}, remote ${ev.remote}`);
    }
    if (e.current !== c) return;
    e.current = undefined;
    if (c.expectedEnd === 'ending') return;
    e.settled ??= this.#w.dist.begin(e.name, `${e.name} reconnecting after ${c.tag} closed`, MOVE_GRACE_MS);
    if (!e.busy) this.#reconnectSoon(e);
  }

  /** In the background, to a random live node, until connected (bounded: 150 tries). */
  #reconnectSoon(e: Entity): void {
    if (e.busy || this.#w.stopped()) return;
    e.busy = true;
    this.#w.track((async () => {
      try {
        for (let i = 0; i < 150 && !this.#w.stopped() && !e.current; i++) {
          await sleep(this.#w.bg.int(100, 400));
          const live = this.#w.live();
          if (live.length === 0) continue;
          await this.open(e, this.#w.bg.pick(live)).catch(() => {});
        }
        if (!e.current && !this.#w.stopped()) this.#w.model.violation(`${e.name} could not reconnect to any node in 150 tries`);
      } finally {
        e.busy = false;
      }
    })());
  }

  /** Every object answers at once (or within 50 ms), naming the request's id and itself. */
  async #answer(by: string, conn: string, payload: Payload): Promise<{ code: number; payload: Payload }> {
    let body: { id?: unknown; delay?: number };
    try {
      body = decodePayloadJson(payload);
    } catch {
      this.#w.model.violation(`${conn} handed a payload that is not the test's JSON`);
      return { code: 0x01, payload: json(null) };
    }
    this.#w.model.seen(body.id, by, conn);
    if (body.delay) await sleep(body.delay);
    return { code: 0, payload: json({ id: body.id, by }) };
  }
}
