/**
 * peers: this daemon side by side with NATS (nats-server, request/reply), Mosquitto (MQTT
 * 3.1.1) and aedes (MQTT, Node) under tcp-rr's load shape: 1 central, 10 devices × 32
 * requests in flight, 32-byte payloads, devices echo; then 1 request in flight; then idle
 * connections for memory. Rounds interleaved across the systems in one run. A peer whose
 * binary is missing keeps its column, saying how to install it.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Child, libScript } from '../lib/child.js';
import { missing, startBroker, SYSTEM_TITLES, SYSTEMS, type Broker, type System } from '../lib/peer-brokers.js';
import { peerRound, startDevices, type Devices, type PeerRound } from '../lib/peer-round.js';
import { peerReport, type IdleMemory } from '../lib/peer-report.js';
import type { Row } from '../lib/report.js';
import { rrSizes } from '../lib/rr.js';
import { runIfMain, scratchDir, type ScenarioOptions } from '../lib/scenario.js';

/** idleMemory on a broker of its own, started for it. */
async function idleMemoryFresh(system: System, n: number, dir: string, o: ScenarioOptions): Promise<IdleMemory> {
  const broker = await startBroker(system, { dir, devices: n });
  try {
    return await idleMemory(broker, n, o);
  } finally {
    await broker.stop();
  }
}

/**
 * RSS of a broker before any session, then with `n` idle device connections (each
 * answering one ping): (after - before) / opened. The daemon's devices use the sessions
 * scenario's lean handshake; the peers' subscribe to their request subject or topic.
 */
async function idleMemory(broker: Broker, n: number, o: ScenarioOptions): Promise<IdleMemory> {
  const system = broker.system;
  const maxMs = 180_000;
  const load = system === 'daemon'
    ? new Child(libScript('sessions-load-main'), { port: broker.port, from: 0, to: n, localAddresses: ['127.0.0.1'], concurrency: 64, openMs: 60_000, maxMs }, { name: 'daemon-idle' })
    : new Child(libScript('peer-idle-main'), { protocol: system === 'nats' ? 'nats' : 'mqtt', port: broker.port, n, concurrency: 64, maxMs }, { name: `${system}-idle` });
  try {
    await load.next('ready', 30_000);
    const rssBefore = await broker.rssBytes();
    load.send({ type: 'go' });
    const opened = await load.next<{ opened: number; failed: number; firstError?: string }>('opened', maxMs);
    load.send({ type: 'ping' });
    const { answered } = await load.next<{ answered: number }>('pinged', 60_000);
    const rssAfter = await broker.rssBytes();
    load.send({ type: 'close' });
    await load.next('closed', 60_000);
    const r = { rssBefore, kibPerConnection: opened.opened > 0 ? (rssAfter - rssBefore) / opened.opened / 1024 : NaN, opened: opened.opened, answered };
    o.log(`peers idle ${system}: ${opened.opened}/${n} opened (${opened.failed} failed${opened.firstError ? `: ${opened.firstError}` : ''}), ${answered} answered a ping, `
      + `rss ${(rssBefore / 2 ** 20).toFixed(1)} -> ${(rssAfter / 2 ** 20).toFixed(1)} MiB, ${r.kibPerConnection.toFixed(2)} KiB per connection`);
    return r;
  } finally {
    await load.stop(10_000);
  }
}

function describe(system: System, inFlight: number, r: PeerRound): string {
  return `peers ${system} ×${inFlight}: ${Math.round(r.perSec)} rt/s, p50 ${r.p50.toFixed(3)} ms, p99 ${r.p99.toFixed(3)} ms, `
    + `broker ${r.brokerUsPerRt.toFixed(2)} µs/rt, load ${r.loadUsPerRt.toFixed(2)} µs/rt, errors ${r.errors}, left ${r.unanswered}`;
}

/** Starts in parallel; whatever started goes into `into` (for the caller to stop) even when another failed. */
async function startAll<T>(into: T[], starting: ReadonlyArray<Promise<T>>): Promise<void> {
  const settled = await Promise.allSettled(starting);
  for (const x of settled) if (x.status === 'fulfilled') into.push(x.value);
  const failed = settled.find((x) => x.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Even rounds in the systems' order, odd ones reversed (ABBA for two), so drift hits every system alike. */
function roundOrder<T>(xs: readonly T[], round: number): readonly T[] {
  return round % 2 === 0 ? xs : [...xs].reverse();
}

export async function peers(o: ScenarioOptions): Promise<Row[]> {
  const s = rrSizes(o);
  const idleN = o.smoke ? 50 : o.quick ? 500 : 2_000;
  const absent = new Map<System, string>();
  for (const sys of SYSTEMS) {
    const why = missing(sys);
    if (why) absent.set(sys, why);
  }
  const ran = SYSTEMS.filter((sys) => !absent.has(sys));
  for (const [sys, why] of absent) o.log(`peers: ${SYSTEM_TITLES[sys]} ${why}`);
  const scratch = scratchDir('peers');
  const dirFor = (name: string) => {
    const d = join(scratch.dir, name);
    mkdirSync(d, { recursive: true });
    return d;
  };
  const loaded = new Map<System, PeerRound[]>(ran.map((sys) => [sys, []]));
  const single = new Map<System, PeerRound[]>(ran.map((sys) => [sys, []]));
  const memory = new Map<System, IdleMemory>();
  // Every round of every system, each at most its window plus the drain deadline and start-up.
  const devicesMaxMs = s.rounds * 2 * ran.length * (s.warmupMs + s.measureMs + 25_000);
  try {
    // Memory first, each on a fresh broker of its own, so that no load round has grown its
    // heap and the forced GCs of the Node brokers do not slow their load rounds. The smoke
    // test measures it on the load brokers instead, to stay short.
    if (!o.smoke) for (const sys of ran) memory.set(sys, await idleMemoryFresh(sys, idleN, dirFor(`${sys}-idle`), o));
    const brokers: Broker[] = [];
    const devices: Devices[] = [];
    try {
      const devicesFor = o.smoke ? Math.max(s.objects, idleN) : s.objects;
      await startAll(brokers, ran.map((sys) => startBroker(sys, { dir: dirFor(`${sys}-load`), devices: devicesFor, cpuProfDir: sys === 'daemon' ? o.cpuProfDir : undefined })));
      // The smoke test (figures mean nothing there) runs the systems side by side, to stay short.
      const each = async (order: readonly number[], fn: (i: number) => Promise<void>) => {
        if (o.smoke) await Promise.all(order.map(fn));
        else for (const i of order) await fn(i);
      };
      const all = brokers.map((_, k) => k);
      if (o.smoke) await each(all, async (i) => void memory.set(brokers[i]!.system, await idleMemory(brokers[i]!, idleN, o)));
      await startAll(devices, brokers.map((b) => startDevices(b, s, devicesMaxMs)));
      for (let r = 0; r < s.rounds; r++) {
        for (const inFlight of [32, 1]) {
          await each(roundOrder(all, r), async (i) => {
            const x = await peerRound(brokers[i]!, devices[i]!, s, inFlight);
            o.log(describe(brokers[i]!.system, inFlight, x));
            (inFlight === 1 ? single : loaded).get(brokers[i]!.system)!.push(x);
          });
        }
      }
    } finally {
      await Promise.all(devices.map((d) => d.stop()));
      await Promise.all(brokers.map((b) => b.stop()));
    }
  } finally {
    scratch.cleanup();
  }
  return peerReport({ ran, absent, loaded, single, memory }, o.table);
}

runIfMain(import.meta.url, peers);
