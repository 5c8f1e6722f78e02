import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import { formatAclJson } from '../../src/registry/acl-file.js';
import { ensureBuilt, spawnCli, type CliChild } from './cli.js';
import { isListening } from './cli-daemon.js';
import { withTimeout } from './cluster.js';
import { CENTRAL_KEY } from './config.js';
import type { Device } from './daemon.js';
import { call } from './http.js';
import { openFds, rssKiB } from './proc-stats.js';
import type { RedisServer } from './redis.js';

type Teardown = { teardown(fn: () => unknown): void };

/** What every node of a soak runs with: the same file each start, only nodeId and ports differ. */
export interface SoakNodeSettings {
  readonly keyPrefix: string;
  readonly requestTimeoutSec: number;
  readonly keepSessionSec: number;
  /** The central's telemetry webhook (PROTOCOL §7: telemetry goes there while no central TCP session is connected). */
  readonly telemetryHook: string;
  /** The Devices group's token lifetime: short, so that a soak sees tokens renewed and expiring. */
  readonly tokenExpMin: number;
}

/**
 * One node of a soak: the real CLI (`node bin/iotsocket.js start -c node.yaml`) in a child
 * process, killed with SIGKILL and started again with the same nodeId, config, ports and data
 * folder. Unlike CliNode it keeps no parsed log lines (a soak runs for minutes) and reads
 * its own process: RSS and descriptors from /proc/<pid>.
 */
export class SoakNode {
  readonly dir: string;
  #run: CliChild | undefined;
  /** Its current run logged "listening": until then a connection to its ports is refused. */
  #listening = false;
  #ports = { tcp: 0, udp: 0, http: 0 };
  /** Bumped at each start: a connection or call made in an earlier life ended with it. */
  life = 0;
  /** stderr of runs that ended other than by the test's SIGKILL (a crash to report). */
  readonly crashes: string[] = [];

  private constructor(t: Teardown, readonly id: string, readonly redis: RedisServer, readonly settings: SoakNodeSettings) {
    this.dir = mkdtempSync(join(tmpdir(), `iots-soak-${id}-`));
    t.teardown(async () => {
      await this.kill9();
      rmSync(this.dir, { recursive: true, force: true });
    });
  }

  static async start(t: Teardown, redis: RedisServer, id: string, devices: readonly Device[], settings: SoakNodeSettings): Promise<SoakNode> {
    ensureBuilt();
    const node = new SoakNode(t, id, redis, settings);
    mkdirSync(join(node.dir, 'data'), { recursive: true });
    writeFileSync(join(node.dir, 'data/acl.json'), formatAclJson(devices));
    await node.#launch();
    return node;
  }

  /** Running and listening: what clients and callers may be sent to. */
  get alive(): boolean { return this.#run !== undefined && this.#listening; }
  get tcp(): number { return this.#ports.tcp; }
  get udp(): number { return this.#ports.udp; }
  get httpBase(): string { return `http://127.0.0.1:${this.#ports.http}`; }
  get pid(): number | undefined { return this.#run?.child.pid; }

  /** `kill -9`: no Close, no goodbye to Redis; the others reap it when its lease lapses. */
  async kill9(): Promise<void> {
    const run = this.#run;
    if (!run) return;
    this.#run = undefined;
    run.child.kill('SIGKILL');
    await run.exited;
  }

  /** Starts again after kill9(): same nodeId, same file, same ports, same data folder. */
  async restart(): Promise<void> {
    if (this.#run) throw new Error(`node ${this.id} is running`);
    await this.#launch();
  }

  /** GET /readyz answers 200 (Redis reached, lease held). */
  async ready(dispatcher: Dispatcher): Promise<boolean> {
    const r = await call(this.httpBase, '/readyz', undefined, { method: 'GET', dispatcher, signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
    return r?.status === 200;
  }

  /** A metric from GET /metrics, summed over its labels; NaN when absent. */
  async metric(name: string, dispatcher: Dispatcher): Promise<number> {
    const r = await call(this.httpBase, '/metrics', undefined, { method: 'GET', dispatcher, signal: AbortSignal.timeout(5_000) });
    let sum = NaN;
    for (const line of r.text.split('\n')) {
      if (!line.startsWith(name) || (line[name.length] !== ' ' && line[name.length] !== '{')) continue;
      sum = (Number.isNaN(sum) ? 0 : sum) + Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return sum;
  }

  /** A metric's series from GET /metrics, keyed by their label sets ('{result="dropped",reason="x"}'). */
  async series(name: string, dispatcher: Dispatcher): Promise<Record<string, number>> {
    const r = await call(this.httpBase, '/metrics', undefined, { method: 'GET', dispatcher, signal: AbortSignal.timeout(5_000) });
    const out: Record<string, number> = {};
    for (const line of r.text.split('\n')) {
      if (!line.startsWith(`${name}{`)) continue;
      const labels = line.slice(name.length, line.lastIndexOf(' '));
      out[labels] = (out[labels] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return out;
  }

  rssKiB(): number | undefined {
    const pid = this.pid;
    return pid === undefined ? undefined : rssKiB(pid);
  }

  fds(): string[] {
    const pid = this.pid;
    if (pid === undefined) throw new Error(`node ${this.id} is not running`);
    return openFds(pid);
  }

  async #launch(): Promise<void> {
    writeFileSync(join(this.dir, 'node.yaml'), this.#yaml());
    const run = spawnCli(['start', '-c', 'node.yaml'], { cwd: this.dir });
    this.#run = run;
    this.#listening = false;
    this.life++;
    void run.exited.then((exit) => {
      if (this.#run === run) {
        this.#run = undefined;
        this.crashes.push(`node ${this.id} exited by itself (code ${exit.code}, signal ${exit.signal}): ${exit.stderr.slice(-2000)}`);
      }
    });
    const listening = await withTimeout(run.waitForLog(isListening), 30_000, `node ${this.id} to log "listening"`);
    const port = (k: string) => (listening[k] as AddressInfo | undefined)?.port ?? 0;
    this.#ports = { tcp: port('tcp'), udp: port('udp'), http: port('http') };
    if (!this.#ports.udp || !this.#ports.http) throw new Error(`node ${this.id}: the listening line lacks UDP or HTTP: ${JSON.stringify(listening)}`);
    this.#listening = true;
  }

  #yaml(): string {
    const s = this.settings;
    return [
      `keepSessionSec: ${s.keepSessionSec}`,
      `tcp: { host: 127.0.0.1, port: ${this.#ports.tcp}, requestTimeoutSec: ${s.requestTimeoutSec}, handshakeTimeoutSec: 10 }`,
      `udp: { enabled: true, host: 127.0.0.1, port: ${this.#ports.udp} }`,
      `http: { enabled: true, host: 127.0.0.1, port: ${this.#ports.http} }`,
      `central: { authKey: ${CENTRAL_KEY.toString('hex')}, webhooks: { telemetry: ${JSON.stringify(s.telemetryHook)} } }`,
      `groups: { Devices: { telemetry: true, telemetryTokenExpMin: ${s.tokenExpMin} }, Stations: {} }`,
      'acl: { file: data/acl.json }',
      'limits: { acceptPerSec: 100000, authFailuresPerMinute: 100000 }',
      'log: { level: info }', // the "listening" line that names the ports is at info
      'cluster:',
      `  redis: ${JSON.stringify(this.redis.url)}`,
      `  nodeId: ${JSON.stringify(this.id)}`,
      `  keyPrefix: ${JSON.stringify(s.keyPrefix)}`,
      '  commandTimeoutMs: 500',
      '  heartbeatSec: 1',
      '  leaseSec: 2',
      '',
    ].join('\n');
  }
}
