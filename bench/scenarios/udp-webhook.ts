/**
 * udp-webhook: 10 objects send telemetry at 10 000 datagrams/s in total with no central TCP
 * session: the daemon POSTs each to a local telemetry webhook receiver, which counts the
 * bodies and its TCP connections (a reused pool keeps these at the pool's size).
 */
import { Child, libScript } from '../lib/child.js';
import { BENCH_UDP_RECV_BUFFER_BYTES, benchConfig } from '../lib/config.js';
import { startDaemonProcess } from '../lib/daemon-process.js';
import { makeRow, type Row } from '../lib/report.js';
import { runIfMain, scratchDir, type ScenarioOptions } from '../lib/scenario.js';
import { describeUdpRound, udpRound, type UdpRoundResult, type UdpSizes } from '../lib/udp.js';
import { describeCounters, udpRows } from './udp.js';

/** The daemon's webhook pool size (WebhookClient's connectionsPerOrigin default): at most this many connections. */
const POOL_CONNECTIONS = 64;

function sizes(o: ScenarioOptions): UdpSizes {
  const base = { objects: 10, senderProcs: 1, rate: 10_000, payloadBytes: 32 };
  if (o.smoke) return { ...base, objects: 2, rate: 1_000, durationMs: 200, rounds: 1, warmupMs: 0 };
  if (o.quick) return { ...base, durationMs: 1_000, rounds: 3, warmupMs: 500 };
  return { ...base, durationMs: 5_000, rounds: 3, warmupMs: 1_000 };
}

interface ReceiverCount {
  readonly posts: number;
  readonly bad: number;
  readonly connections: number;
}

export async function udpWebhook(o: ScenarioOptions): Promise<Row[]> {
  const s = sizes(o);
  const scratch = scratchDir('udp-webhook');
  const receiver = new Child(libScript('webhook-receiver-main'), {}, { name: 'webhook-receiver' });
  let daemon: Awaited<ReturnType<typeof startDaemonProcess>> | undefined;
  try {
    const { port } = await receiver.next<{ type: 'ready'; port: number }>('ready', 20_000);
    const count = async (): Promise<ReceiverCount> => {
      receiver.send({ type: 'count' });
      return receiver.next<ReceiverCount & { type: 'count' }>('count', 10_000);
    };
    const udpConf = { maxPerSecPerToken: 2 * (s.rate / s.objects), recvBufferBytes: BENCH_UDP_RECV_BUFFER_BYTES };
    daemon = await startDaemonProcess(benchConfig({
      dir: scratch.dir, objects: s.objects, udp: udpConf, telemetryWebhook: `http://127.0.0.1:${port}/telemetry`,
    }), { cpuProfDir: o.cpuProfDir });
    const rounds: UdpRoundResult[] = [];
    const connections: number[] = [];
    let warm: UdpRoundResult | undefined;
    for (let r = s.warmupMs > 0 ? -1 : 0; r < s.rounds; r++) {
      // Retries back off from 500 ms: let a slow tail settle for 2 s.
      const res = await udpRound(daemon, r < 0 ? { ...s, durationMs: s.warmupMs } : s, { count: async () => (await count()).posts }, 2_000);
      const c = await count();
      o.log(`${describeUdpRound(r < 0 ? 'udp-webhook warm-up' : 'udp-webhook', res)}; receiver: ${c.posts} POSTs over ${c.connections} connections since the daemon started, ${c.bad} bad bodies`);
      if (r < 0) {
        warm = res;
        continue;
      }
      connections.push(c.connections);
      rounds.push(res);
    }
    o.log(`udp-webhook daemon counters: ${describeCounters(await daemon.counters())}`);
    const note = `${s.objects} objects in ${s.senderProcs} sender process(es), no central session, 1 receiver process`;
    return [
      ...udpRows('udp-webhook', s, rounds, note, warm),
      makeRow('udp-webhook/connections', 'connections since start', connections, { kind: 'abs<=', value: POOL_CONNECTIONS }, undefined,
        `receiver's 'connection' events after each round, for ${rounds.reduce((n, r) => n + r.delivered, 0)} POSTs in all; at most ${POOL_CONNECTIONS} (the pool's size) = reused`),
    ];
  } finally {
    await daemon?.stop();
    await receiver.stop();
    scratch.cleanup();
  }
}

runIfMain(import.meta.url, udpWebhook);
