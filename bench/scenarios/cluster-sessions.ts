/**
 * cluster-sessions: six nodes of one cluster (daemon children on one real redis-server) hold
 * plain object sessions, 16 700 each at full size (100 200 in all), opened by one load process
 * per node from 127.0.0.1–127.0.0.20 (each process under the 20 000-descriptor cap, and about
 * 5 000 connections per source address, far from the 28 000 ephemeral ports of each). Then a
 * central on node n1 sends one Request to each of a sample of objects spread over all six nodes
 * (100 per node), the objects echo, and the answers are counted; every session answers a Ping.
 * Reported: ramp rate, per-node sessions, the nodes' RSS per session, Redis's used_memory per
 * session, requests answered, the ACL seeding time, wall time.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CentralClient } from '../../src/client/index.js';
import { Format } from '../../src/protocol/index.js';
import { Child, libScript } from '../lib/child.js';
import { BENCH_CENTRAL_KEY, benchCluster, benchConfig, objectUid, type WireConfig } from '../lib/config.js';
import { startDaemonProcess, type DaemonProcess } from '../lib/daemon-process.js';
import { describeRefusals, logTrouble } from '../lib/daemon-log.js';
import { BenchRedis } from '../lib/redis-server.js';
import { makeRow, type Row } from '../lib/report.js';
import { runIfMain, scratchDir, type ScenarioOptions } from '../lib/scenario.js';
import type { Opened } from '../lib/session-load.js';

const NODES = 6;
const SOURCES = Array.from({ length: 20 }, (_, i) => `127.0.0.${i + 1}`);
/** Descriptors a node needs besides its sessions (listeners, Redis connections, stdio, IPC, libuv). */
const FD_MARGIN = 256;
const MiB = 2 ** 20;
/** A node's start bound: reading a 100 000-entry ACL took up to 14 s on this shared 2-core machine. */
const START_MS = 120_000;

interface Sizes {
  readonly perNode: number;
  readonly samplePerNode: number;
  /** Load processes stop starting sessions after this (the ramp's bound). */
  readonly rampMs: number;
  readonly concurrencyPerProcess: number;
}

function sizes(o: ScenarioOptions): Sizes {
  if (o.smoke) return { perNode: 10, samplePerNode: 2, rampMs: 20_000, concurrencyPerProcess: 4 };
  if (o.quick) return { perNode: 500, samplePerNode: 20, rampMs: 60_000, concurrencyPerProcess: 32 };
  return { perNode: 16_700, samplePerNode: 100, rampMs: 540_000, concurrencyPerProcess: 96 };
}

/** One Request to each sampled object from a central on `port`; how many came back 0x00 with their payload. */
async function centralSample(port: number, indices: readonly number[]): Promise<{ sent: number; answered: number; ms: number; firstProblem?: string }> {
  const central = new CentralClient({ host: '127.0.0.1', port, key: BENCH_CENTRAL_KEY, requestTimeoutMs: 15_000 });
  central.on('error', () => {});
  await central.connect();
  const t0 = performance.now();
  let firstProblem: string | undefined;
  try {
    const results = await Promise.allSettled(indices.map(async (i) => {
      const payload = Buffer.from(`sample ${i}`);
      const r = await central.request(objectUid(i), { format: Format.BINARY, data: payload });
      if (r.code !== 0 || !Buffer.from(r.payload.data).equals(payload)) throw new Error(`${objectUid(i)}: code 0x${r.code.toString(16)}`);
    }));
    for (const r of results) if (r.status === 'rejected') firstProblem ??= String(r.reason instanceof Error ? r.reason.message : r.reason);
    return { sent: indices.length, answered: results.filter((r) => r.status === 'fulfilled').length, ms: performance.now() - t0, firstProblem };
  } finally {
    await central.close().catch(() => {});
  }
}

/** Starts a daemon child and lists it in `started` (stopped by the caller's cleanup). */
async function startNode(config: WireConfig, started: DaemonProcess[]): Promise<DaemonProcess> {
  const d = await startDaemonProcess(config, { readyTimeoutMs: START_MS });
  started.push(d);
  return d;
}

export async function clusterSessions(o: ScenarioOptions): Promise<Row[]> {
  const wall0 = performance.now();
  const s = sizes(o);
  const total = NODES * s.perNode;
  const redis = await BenchRedis.start('cluster-sessions');
  const scratch = scratchDir('cluster-sessions');
  const nodes: DaemonProcess[] = [];
  const loads: Child[] = [];
  /** Every daemon child started, for the cleanup. */
  const started: DaemonProcess[] = [];
  try {
    const cluster = (id: string, prefix?: string) => benchCluster(redis.url, id, prefix);
    // The first node's acl.file holds the whole fleet; it seeds the cluster's ACL in Redis. The
    // other nodes' files are left empty: a node that finds the ACL in Redis never reads its file.
    // Each node's base directory (its acl.json and daemon.log) under the scenario's scratch directory.
    const nodeConfig = (id: string, objects: number, prefix?: string) => {
      const dir = join(scratch.dir, id);
      mkdirSync(dir);
      return benchConfig({ dir, objects, cluster: cluster(id, prefix) });
    };
    const t0 = performance.now();
    const seedConfig = nodeConfig('n1', total);
    const aclFileMs = performance.now() - t0;
    const otherConfig = (id: string) => nodeConfig(id, 0);
    // One node after the other, as an operator brings a cluster up: n1 seeds the ACL, each other
    // node reads it whole from Redis. (Started all at once, six nodes reading a 100 000-entry ACL
    // on this shared 2-core machine took 10-14 s each, and in one trial 2 of 6 failed to start on
    // the 1 s command timeout: bench/README.md, "What limits the figures".) An idle node on a cluster of
    // its own (another key prefix) with an empty ACL gives what a node costs before any entry.
    const startMs: number[] = [];
    const startTimed = async (config: WireConfig) => {
      const t = performance.now();
      const d = await startNode(config, started);
      startMs.push(performance.now() - t);
      return d;
    };
    nodes.push(await startTimed(seedConfig));
    const seedMs = startMs[0]!;
    for (let i = 2; i <= NODES; i++) nodes.push(await startTimed(otherConfig(`n${i}`)));
    // A seventh node with the same config and the whole ACL: idle, after two forced GCs, its RSS
    // is each node's RSS before the sessions. Forced GCs in the measured nodes would leave V8's
    // heap sizing conservative during the ramp (see the sessions scenario).
    const ref = await startTimed(otherConfig('ref'));
    const memRef = await ref.memory();
    await ref.stop();
    const emptyRef = await startTimed(nodeConfig('ref-empty', 0, 'bench-empty:'));
    const memEmpty = await emptyRef.memory();
    await emptyRef.stop();
    const othersMs = startMs.slice(1, NODES + 1);
    const redisBefore = await redis.usedMemory();
    const fdLimit = nodes[0]!.fdLimit;
    o.log(`cluster-sessions: redis-server ${redis.port}; ${NODES} nodes (fd limit ${fdLimit}), ports ${nodes.map((n) => n.port).join(' ')}; `
      + `acl.file of ${total} entries written in ${aclFileMs.toFixed(0)} ms; n1 started (seeding the ACL) in ${(seedMs / 1000).toFixed(2)} s, n2…n6 and the reference (reading it) in ${othersMs.map((m) => (m / 1000).toFixed(2)).join(', ')} s; `
      + `idle node RSS ${(memRef.usage.rss / MiB).toFixed(1)} MiB with the ACL, ${(memEmpty.usage.rss / MiB).toFixed(1)} MiB without; Redis used_memory ${(redisBefore / MiB).toFixed(1)} MiB`);
    if (Number.isFinite(fdLimit) && s.perNode > fdLimit - FD_MARGIN) o.log(`cluster-sessions: ${s.perNode} sessions per node exceed the fd limit ${fdLimit} less ${FD_MARGIN}`);

    const holdMs = (o.holdSec ?? 0) * 1000;
    const maxMs = s.rampMs + 180_000 + holdMs;
    for (const [p, node] of nodes.entries()) {
      loads.push(new Child(libScript('cluster-sessions-load-main'), {
        port: node.port, from: p * s.perNode, to: (p + 1) * s.perNode, localAddresses: SOURCES,
        concurrency: s.concurrencyPerProcess, openMs: s.rampMs, maxMs,
      }, { name: `cluster-sessions-load-${p}` }));
    }
    await Promise.all(loads.map((c) => c.next('ready', 30_000)));
    const cpu0 = await Promise.all(nodes.map((n) => n.cpuMicros()));
    const ramp0 = performance.now();
    for (const c of loads) c.send({ type: 'go' });
    const opened = await Promise.all(loads.map((c) => c.next<Opened>('opened', s.rampMs + 60_000)));
    const rampMs = performance.now() - ramp0;
    const cpu1 = await Promise.all(nodes.map((n) => n.cpuMicros()));
    const sessions = opened.reduce((n, r) => n + r.opened, 0);
    const failed = opened.reduce((n, r) => n + r.failed, 0);
    const firstError = opened.find((r) => r.firstError)?.firstError;
    const mem = await Promise.all(nodes.map((n) => n.memory()));
    const redisAfter = await redis.usedMemory();
    const perNode = mem.map((m) => m.connections);
    // Per session held (the nodes' connection counts), not opened: a session dropped since it
    // opened would make the figure look smaller than it is.
    const held = perNode.reduce((n, c) => n + c, 0);
    const rssDelta = mem.reduce((sum, m) => sum + m.usage.rss - memRef.usage.rss, 0);
    const kibPerSession = held > 0 ? rssDelta / held / 1024 : NaN;
    const redisPerSession = held > 0 ? (redisAfter - redisBefore) / held : NaN;
    const aclBytesPerEntry = total > 0 ? (memRef.usage.rss - memEmpty.usage.rss) / total : NaN;
    o.log(`cluster-sessions: ${sessions}/${total} opened (${failed} failed${firstError ? `: ${firstError}` : ''}) in ${(rampMs / 1000).toFixed(1)} s = ${Math.round(sessions / (rampMs / 1000))}/s; `
      + `${held} held, per node ${perNode.join(' ')}; node CPU over the ramp ${cpu1.map((c, i) => `${(100 * (c - cpu0[i]!) / 1000 / rampMs).toFixed(0)}%`).join(' ')}, load ${opened.map((r) => `${(100 * r.cpuMs / rampMs).toFixed(0)}%`).join(' ')}; `
      + `RSS ${mem.map((m) => (m.usage.rss / MiB).toFixed(0)).join(' ')} MiB (idle ${(memRef.usage.rss / MiB).toFixed(0)}) = ${kibPerSession.toFixed(2)} KiB/session; `
      + `Redis used_memory ${(redisBefore / MiB).toFixed(1)} -> ${(redisAfter / MiB).toFixed(1)} MiB = ${redisPerSession.toFixed(0)} B/session, ${await redis.dbSize()} keys`);

    const nodeIds = nodes.map((_, i) => `n${i + 1}`);
    // fd-limit-low is expected: tcp.maxConnections (150 000) is above this machine's 20 000 descriptors.
    const troubles = nodeIds.map((id) => logTrouble(join(scratch.dir, id), ['fd-limit-low']));
    const firstWarning = troubles.find((t) => t.firstWarning)?.firstWarning;
    o.log(`cluster-sessions: the nodes' logs: refused handshakes ${describeRefusals(troubles)}; warnings ${troubles.map((t) => t.warnings).join(' ')}${firstWarning ? `, first: ${firstWarning}` : ''}`);

    // Held idle past the nodes' idle Pings (tcp.pingIdleSec, then as long again for the Pong): a
    // node that drops a session it should keep, or one whose memory grows while idle, shows here.
    let heldAfter: number | undefined;
    if (holdMs > 0) {
      await new Promise((r) => setTimeout(r, holdMs));
      const memAfter = await Promise.all(nodes.map((n) => n.memory()));
      heldAfter = memAfter.reduce((n, m) => n + m.connections, 0);
      const rssAfter = memAfter.reduce((sum, m) => sum + m.usage.rss - memRef.usage.rss, 0);
      o.log(`cluster-sessions: after ${o.holdSec} s held idle: ${heldAfter} held, per node ${memAfter.map((m) => m.connections).join(' ')}; `
        + `RSS ${memAfter.map((m) => (m.usage.rss / MiB).toFixed(0)).join(' ')} MiB = ${(heldAfter > 0 ? rssAfter / heldAfter / 1024 : NaN).toFixed(2)} KiB/session`);
    }

    // The sample: objects that hold a session, spread over each node's (a failed handshake is counted above).
    for (const c of loads) c.send({ type: 'sample', n: s.samplePerNode });
    const sample = (await Promise.all(loads.map((c) => c.next<{ indices: number[] }>('sample', 30_000)))).flatMap((r) => r.indices);
    const req = await centralSample(nodes[0]!.port, sample);
    for (const c of loads) c.send({ type: 'ping' });
    const pinged = await Promise.all(loads.map((c) => c.next<{ answered: number; served: number; pongsSent: number }>('pinged', 60_000)));
    const pongs = pinged.reduce((n, r) => n + r.answered, 0);
    o.log(`cluster-sessions: central on n1: ${req.answered}/${req.sent} requests answered in ${req.ms.toFixed(0)} ms${req.firstProblem ? ` (first problem: ${req.firstProblem})` : ''}, `
      + `served per node ${pinged.map((r) => r.served).join(' ')}, the nodes' idle Pings answered ${pinged.reduce((n, r) => n + r.pongsSent, 0)}; ${pongs}/${sessions} sessions answered a Ping`);
    for (const c of loads) c.send({ type: 'close' });
    await Promise.all(loads.map((c) => c.next('closed', 60_000)));
    const wallS = (performance.now() - wall0) / 1000;

    const perNodeNote = `one value per node (n1…n${NODES}), not rounds: ${perNode.join(', ')}`;
    return [
      makeRow('cluster-sessions/established', 'sessions', [sessions], { kind: 'abs>=', value: total }, undefined,
        failed > 0 || sessions < total ? `${failed} failed${firstError ? ` (first: ${firstError})` : ''}; the nodes refused: ${describeRefusals(troubles)}; ramp bound ${s.rampMs / 1000} s` : undefined),
      makeRow('cluster-sessions/per-node', 'sessions', perNode, { kind: 'report' }, undefined, perNodeNote),
      makeRow('cluster-sessions/ramp', 'sessions/s', [sessions / (rampMs / 1000)], { kind: 'report' }, undefined,
        `${NODES} load processes (one per node, ${s.concurrencyPerProcess} handshakes in flight each), ${(rampMs / 1000).toFixed(1)} s`),
      makeRow('cluster-sessions/rss-per-session', 'KiB', [kibPerSession], { kind: 'abs<=', value: 20 }, undefined,
        `sum over the ${NODES} nodes of (RSS with the sessions − ${(memRef.usage.rss / MiB).toFixed(1)} MiB idle) / ${held} sessions held, after two forced GCs; with the idle RSS counted too: ${((mem.reduce((n, m) => n + m.usage.rss, 0)) / Math.max(1, held) / 1024).toFixed(1)} KiB`),
      makeRow('cluster-sessions/rss-idle-node', 'MiB', [memRef.usage.rss / MiB], { kind: 'report' }, undefined,
        `a node with the ${total}-entry ACL, idle; ${(memEmpty.usage.rss / MiB).toFixed(1)} MiB with an empty ACL: ${aclBytesPerEntry.toFixed(0)} B of RSS per ACL entry, in every node`),
      makeRow('cluster-sessions/redis-memory-per-session', 'bytes', [redisPerSession], { kind: 'report' }, undefined,
        `used_memory ${redisBefore} -> ${redisAfter} bytes over the ramp, per session held`),
      makeRow('cluster-sessions/requests-answered', 'requests', [req.answered], { kind: 'abs>=', value: req.sent }, [req.sent],
        `a central on n1, one Request to each of ${s.samplePerNode} objects per node (among those holding a session)${req.firstProblem ? `; first problem: ${req.firstProblem}` : ''}`),
      ...(heldAfter === undefined ? [] : [makeRow('cluster-sessions/held-after-hold', 'sessions', [heldAfter], { kind: 'abs>=', value: total }, undefined,
        `sessions the nodes still held after ${o.holdSec} s idle (--hold-sec)`)]),
      makeRow('cluster-sessions/answering', 'sessions', [pongs], { kind: 'abs>=', value: total }, undefined, 'sessions that answered a Ping after the requests'),
      makeRow('cluster-sessions/acl-seed', 's', [seedMs / 1000], { kind: 'report' }, undefined,
        `n1's start, seeding ${total} ACL entries into Redis; n2…n${NODES} and the reference node, one after the other, each reading the ACL from Redis: ${othersMs.map((m) => (m / 1000).toFixed(2)).join(', ')} s`),
      makeRow('cluster-sessions/wall-time', 's', [wallS], { kind: 'report' }),
    ];
  } finally {
    await Promise.all(loads.map((c) => c.stop(10_000)));
    await Promise.all(started.map((n) => n.stop()));
    await redis.stop();
    scratch.cleanup();
  }
}

runIfMain(import.meta.url, clusterSessions);
