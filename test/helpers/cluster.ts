import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Agent } from 'undici';
import type { ClusterConfig, Config } from '../../src/config/types.js';
import { createConcentrator, type Concentrator, type ConcentratorDeps } from '../../src/daemon.js';
import { Format, ToT, type Payload, type Transmission } from '../../src/protocol/index.js';
import { formatAclJson } from '../../src/registry/acl-file.js';
import { ensureBuilt, spawnCli, type CliChild } from './cli.js';
import { isListening } from './cli-daemon.js';
import { CENTRAL_KEY, testConfig } from './config.js';
import { LogSink, type Device } from './daemon.js';
import { call, type CallOptions, type HttpAnswer } from './http.js';
import { RawClient } from './raw-client.js';
import { RedisKeys } from '../../src/redis/keys.js';
import type { RedisServer } from './redis.js';
import { until } from './until.js';

type Teardown = { teardown(fn: () => unknown): void };

/**
 * Liveness figures small enough that a dead node is noticed within 2–3 s, and a command
 * timeout that keeps "Redis down" answers well under a second.
 */
export const FAST_CLUSTER = { heartbeatSec: 1, leaseSec: 2, commandTimeoutMs: 300, keyPrefix: 'iots-test:' } as const;

/** The `cluster` key of node `nodeId` on `redis`. */
export function clusterKey(redis: RedisServer, nodeId: string, over: Partial<ClusterConfig> = {}): ClusterConfig {
  return { redis: redis.url, nodeId, ...FAST_CLUSTER, ...over };
}

export const ascii = (s: string): Payload => ({ format: Format.ASCII, options: 0, data: Buffer.from(s) });

/** What a test does with a node, whichever way it runs (in this process or as `iotsocket start`). */
export interface ClusterNode {
  readonly id: string;
  readonly tcp: number;
  readonly udp: number;
  readonly httpBase: string;
  /** One HTTP call to this node; bounded by `ms` (a hung answer fails by name, it never hangs the test). */
  post(path: string, body?: unknown, opts?: CallOptions & { ms?: number }): Promise<HttpAnswer>;
  get(path: string, opts?: CallOptions & { ms?: number }): Promise<HttpAnswer>;
  /** The central's session at this node (raw protocol). */
  central(): Promise<RawClient>;
  /** A device's session at this node; throws when the handshake is refused. */
  object(dev: Device): Promise<RawClient>;
  /** A device's handshake at this node: whether it was accepted (the client is closed when refused). */
  tryObject(dev: Device): Promise<{ client: RawClient; accepted: boolean }>;
  /** GET /sessions (one page of up to 1000): the fleet as this node sees it. */
  sessions(): Promise<SessionRow[]>;
}

/** One session row of `GET /sessions`. */
export interface SessionRow {
  UID: string;
  Kind: string;
  State: string;
  Buffered: number;
  Node: string;
  [k: string]: unknown;
}

abstract class NodeBase implements ClusterNode {
  abstract readonly id: string;
  abstract readonly tcp: number;
  abstract readonly udp: number;
  abstract readonly httpBase: string;
  readonly #agent: Agent;
  readonly #clients = new Set<RawClient>();

  constructor(t: Teardown) {
    this.#agent = new Agent({ connections: 16 });
    t.teardown(() => {
      for (const c of this.#clients) c.close();
      return this.#agent.destroy();
    });
  }

  async post(path: string, body?: unknown, opts: CallOptions & { ms?: number } = {}): Promise<HttpAnswer> {
    const ms = opts.ms ?? 15_000;
    try {
      return await call(this.httpBase, path, body, { dispatcher: this.#agent, signal: AbortSignal.timeout(ms), ...opts });
    } catch (err) {
      if ((err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError') {
        throw new Error(`${opts.method ?? 'POST'} ${path} at node ${this.id}: no answer within ${ms} ms`);
      }
      throw err;
    }
  }

  get(path: string, opts: CallOptions & { ms?: number } = {}): Promise<HttpAnswer> {
    return this.post(path, undefined, { ...opts, method: 'GET' });
  }

  async central(): Promise<RawClient> {
    return this.#open('', CENTRAL_KEY);
  }

  async object(dev: Device): Promise<RawClient> {
    return this.#open(dev.uid, dev.key);
  }

  async tryObject(dev: Device): Promise<{ client: RawClient; accepted: boolean }> {
    const r = await RawClient.open(this.tcp, dev.uid, dev.key);
    this.#clients.add(r.client);
    if (!r.accepted) r.client.close();
    return r;
  }

  async sessions(): Promise<SessionRow[]> {
    const r = await this.get('/sessions?limit=1000');
    if (r.status !== 200) throw new Error(`GET /sessions at node ${this.id}: ${r.status} ${r.text}`);
    return r.json.sessions as SessionRow[];
  }

  async #open(uid: string, key: Buffer): Promise<RawClient> {
    const { client, accepted } = await RawClient.open(this.tcp, uid, key);
    this.#clients.add(client);
    if (!accepted) {
      client.close();
      throw new Error(`node ${this.id} refused the handshake of ${uid === '' ? 'the central' : `UID ${JSON.stringify(uid)}`}`);
    }
    return client;
  }
}

/** A node in this process: `createConcentrator` with a `cluster` key. */
export class InProcessNode extends NodeBase {
  readonly id: string;
  readonly daemon: Concentrator;
  readonly config: Config;
  readonly logs: LogSink;

  private constructor(t: Teardown, id: string, daemon: Concentrator, config: Config, logs: LogSink) {
    super(t);
    this.id = id;
    this.daemon = daemon;
    this.config = config;
    this.logs = logs;
  }

  get tcp(): number { return this.daemon.addresses!.tcp.port; }
  get udp(): number { return this.daemon.addresses!.udp!.port; }
  get httpBase(): string { return `http://127.0.0.1:${this.daemon.addresses!.http!.port}`; }

  /**
   * Starts node `id` on `redis` with TCP, UDP and HTTP on 127.0.0.1:0. Its acl.file holds
   * `devices` (the first node seeds the fleet's ACL from it when Redis has none; every node gets
   * the same file, so the order of starts does not matter). Closed at teardown. `deps`: as
   * createConcentrator's (e.g. `nodeProtocols`, a node of another release).
   */
  static async start(t: Teardown, redis: RedisServer, id: string, devices: readonly Device[], over: Record<string, any> = {}, deps: Omit<ConcentratorDeps, 'logger'> = {}): Promise<InProcessNode> {
    const config = testConfig(t, {
      ...over,
      cluster: clusterKey(redis, id, over.cluster),
      tcp: { requestTimeoutSec: 5, ...over.tcp },
      udp: { enabled: true, ...over.udp },
      http: { enabled: true, ...over.http },
      limits: { acceptPerSec: 100_000, authFailuresPerMinute: 100_000, ...over.limits },
    });
    writeFileSync(config.acl.file, formatAclJson(devices));
    const logs = new LogSink();
    // IOTS_TEST_LOG=debug keeps every line (node.logs) when a test needs explaining.
    const daemon = createConcentrator(config, { ...deps, logger: pino({ level: process.env.IOTS_TEST_LOG ?? 'warn' }, logs) });
    t.teardown(() => daemon.close());
    await daemon.start();
    return new InProcessNode(t, id, daemon, config, logs);
  }

  /** Graceful stop (Close 0x01 to its sessions, leaves the cluster). */
  stop(): Promise<void> {
    return this.daemon.close();
  }

  /** A metric of this node (counters summed over this process's registry). */
  metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    return this.daemon.internals.metrics.value(name, labels);
  }
}

/** Nodes `ids` in this process on one Redis, started one after the other. */
export async function startCluster(t: Teardown, redis: RedisServer, ids: readonly string[], devices: readonly Device[], over: Record<string, any> = {}): Promise<InProcessNode[]> {
  const nodes: InProcessNode[] = [];
  for (const id of ids) nodes.push(await InProcessNode.start(t, redis, id, devices, over));
  return nodes;
}

/**
 * A node run by the real CLI (`iotsocket start -c node.yaml`) in a child process, so it can be
 * killed with SIGKILL and started again with the same nodeId on the same ports.
 */
export class CliNode extends NodeBase {
  readonly id: string;
  readonly dir: string;
  #run: CliChild | undefined;
  /** Every JSON log line of every run so far, for checks and failure messages. */
  readonly logs: Array<Record<string, unknown>> = [];
  #ports = { tcp: 0, udp: 0, http: 0 };
  readonly #redis: RedisServer;
  readonly #requestTimeoutSec: number;
  readonly #keepSessionSec: number;

  private constructor(t: Teardown, id: string, redis: RedisServer, opts: { requestTimeoutSec: number; keepSessionSec: number }) {
    super(t);
    this.id = id;
    this.#redis = redis;
    this.#requestTimeoutSec = opts.requestTimeoutSec;
    this.#keepSessionSec = opts.keepSessionSec;
    this.dir = mkdtempSync(join(tmpdir(), `iots-node-${id}-`));
    t.teardown(() => {
      this.#run?.child.kill('SIGKILL');
      rmSync(this.dir, { recursive: true, force: true });
    });
  }

  get tcp(): number { return this.#ports.tcp; }
  get udp(): number { return this.#ports.udp; }
  get httpBase(): string { return `http://127.0.0.1:${this.#ports.http}`; }
  get pid(): number | undefined { return this.#run?.child.pid; }

  /** Builds dist/ if needed, writes the config and ACL, starts, waits for the "listening" line. */
  static async start(t: Teardown, redis: RedisServer, id: string, devices: readonly Device[], opts: { requestTimeoutSec?: number; keepSessionSec?: number } = {}): Promise<CliNode> {
    ensureBuilt();
    const node = new CliNode(t, id, redis, { requestTimeoutSec: opts.requestTimeoutSec ?? 5, keepSessionSec: opts.keepSessionSec ?? 60 });
    mkdirSync(join(node.dir, 'data'), { recursive: true });
    writeFileSync(join(node.dir, 'data/acl.json'), formatAclJson(devices));
    await node.#launch();
    return node;
  }

  /** `kill -9`: no Close, no cleanup, its Redis entries left for the others to reap. */
  async kill9(): Promise<void> {
    const run = this.#run;
    if (!run) return;
    this.#run = undefined;
    run.child.kill('SIGKILL');
    const exit = await run.exited;
    if (exit.signal !== 'SIGKILL') throw new Error(`node ${this.id} exited ${exit.code} before the kill:\n${exit.stderr}`);
  }

  /** Starts again after kill9(): same nodeId, same TCP/UDP/HTTP ports, same data folder. */
  async restart(): Promise<void> {
    if (this.#run) throw new Error(`node ${this.id} is running`);
    await this.#launch();
  }

  async #launch(): Promise<void> {
    writeFileSync(join(this.dir, 'node.yaml'), this.#yaml());
    const run = spawnCli(['start', '-c', 'node.yaml'], { cwd: this.dir });
    this.#run = run;
    run.waitForLog((line) => { this.logs.push(line); return false; }).catch(() => {}); // a recorder that never matches
    const listening = await withTimeout(run.waitForLog(isListening), 20_000, `node ${this.id} to log "listening"`);
    const port = (k: string) => (listening[k] as AddressInfo | undefined)?.port ?? 0;
    this.#ports = { tcp: port('tcp'), udp: port('udp'), http: port('http') };
    if (!this.#ports.udp || !this.#ports.http) throw new Error(`node ${this.id}: the listening line lacks UDP or HTTP: ${JSON.stringify(listening)}`);
  }

  #yaml(): string {
    const c = clusterKey(this.#redis, this.id);
    return [
      `keepSessionSec: ${this.#keepSessionSec}`,
      `tcp: { host: 127.0.0.1, port: ${this.#ports.tcp}, requestTimeoutSec: ${this.#requestTimeoutSec}, handshakeTimeoutSec: 10 }`,
      `udp: { enabled: true, host: 127.0.0.1, port: ${this.#ports.udp} }`,
      `http: { enabled: true, host: 127.0.0.1, port: ${this.#ports.http} }`,
      `central: { authKey: ${CENTRAL_KEY.toString('hex')} }`,
      'groups: { Devices: { telemetry: true, telemetryTokenExpMin: 5 }, Stations: {} }',
      'acl: { file: data/acl.json }',
      'limits: { acceptPerSec: 100000, authFailuresPerMinute: 100000 }',
      'log: { level: info }',
      'cluster:',
      `  redis: ${JSON.stringify(c.redis)}`,
      `  nodeId: ${JSON.stringify(c.nodeId)}`,
      `  keyPrefix: ${JSON.stringify(c.keyPrefix)}`,
      `  commandTimeoutMs: ${c.commandTimeoutMs}`,
      `  heartbeatSec: ${c.heartbeatSec}`,
      `  leaseSec: ${c.leaseSec}`,
      '',
    ].join('\n');
  }
}

/** Rejects with "timed out waiting for `what`" after `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const t = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out waiting for ${what} (${ms} ms)`)), ms); });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** The session row of `uid` at `node`, or undefined. */
export async function sessionOf(node: ClusterNode, uid: string): Promise<SessionRow | undefined> {
  return (await node.sessions()).find((s) => s.UID === uid);
}

/**
 * Waits until a survivor has reaped dead node `nodeId` (docs/cluster-design.md, Liveness): its
 * reap claim is taken, or its entry left the `nodes` hash. Read straight from Redis, since no API
 * shows it; from then on whatever the dead node held has been answered or handed over.
 */
export async function untilReaped(t: Teardown, redis: RedisServer, nodeId: string, ms: number): Promise<void> {
  const r = redis.client(t);
  const keys = new RedisKeys(FAST_CLUSTER.keyPrefix);
  await until(async () => {
    if ((await r.hexists(keys.nodeList, nodeId)) === 0) return true;
    return (await r.keys(`${keys.nodeReap(nodeId, '*')}`)).length > 0;
  }, `node ${nodeId} to be reaped by a survivor (reap claim or gone from ${keys.nodeList})`, ms);
}

/** Until one of `nodes` lists `uid` kept with `buffered` requests in GET /sessions; the failure shows the rows last seen. */
export async function untilKept(nodes: readonly ClusterNode[], uid: string, buffered: number, ms = 4000): Promise<void> {
  const last: Record<string, unknown> = {};
  await until(async () => {
    for (const n of nodes) {
      const s = await sessionOf(n, uid);
      last[n.id] = s ?? null;
      if (s?.State === 'kept' && s.Buffered === buffered) return true;
    }
    return false;
  }, `${uid} kept with ${buffered} buffered, seen from ${nodes.map((n) => n.id).join(' or ')}`, ms).catch((err: Error) => {
    throw new Error(`${err.message}; last rows: ${JSON.stringify(last)}`);
  });
}

/** Reads `client` until a transmission of `type`; returns it and everything read before it. */
export async function readUntil<T extends Transmission['type']>(client: RawClient, type: T, ms = 5000): Promise<{ hit: Extract<Transmission, { type: T }>; before: Transmission[] }> {
  const before: Transmission[] = [];
  for (;;) {
    const x = await client.next(ms);
    if (x.type === type) return { hit: x as Extract<Transmission, { type: T }>, before };
    before.push(x);
  }
}

/** Sends a Ping and returns the Responses received before its Pong: what was still on its way (per connection, in order). */
export async function responsesBeforePong(client: RawClient): Promise<Transmission[]> {
  client.send({ type: ToT.PING });
  return (await readUntil(client, ToT.PONG)).before.filter((x) => x.type === ToT.RESPONSE);
}
