/**
 * Load child for the peers scenario's memory figure: opens `n` idle device connections to a
 * NATS or MQTT broker, each subscribed to its devices' request subject or topic, as an idle
 * device of ours is registered for routing (sessions-load-main does the same for the daemon).
 * On 'ping' every connection does one round trip with the broker (NATS PING via flush, MQTT
 * PINGREQ), so each is known to be alive; on 'close' they all go.
 */
import type { Socket } from 'node:net';
import { connect, type NatsConnection } from 'nats';
import type { Packet } from 'mqtt-packet';
import { childPayload, failChild, lifeline, toParent, type Msg } from './child.js';
import { DISCONNECT, openMqtt, PINGREQ, type MqttSession } from './mqtt-wire.js';

interface IdleArgs {
  readonly protocol: 'nats' | 'mqtt';
  readonly port: number;
  readonly n: number;
  readonly concurrency: number;
  /** Hard lifetime of the process. */
  readonly maxMs: number;
}

const a = childPayload<IdleArgs>();
const nats: NatsConnection[] = [];
const mqtt: MqttSession[] = [];

function command(type: string): Promise<void> {
  return new Promise((resolve) => {
    const on = (m: Msg) => {
      if (m.type !== type) return;
      process.off('message', on);
      resolve();
    };
    process.on('message', on);
  });
}

async function openOne(i: number): Promise<void> {
  if (a.protocol === 'nats') {
    const nc = await connect({ servers: `127.0.0.1:${a.port}`, name: `idle-${i}`, reconnect: false });
    nc.subscribe(`devices.${i}.req`, { callback: () => {} });
    await nc.flush();
    nats.push(nc);
  } else {
    // A device's usual keepalive; the phase is far shorter than the 1.5 x 60 s after which the broker would drop it.
    const s = await openMqtt({ host: '127.0.0.1', port: a.port, clientId: `idle-${i}`, topic: `devices/${i}/req`, keepaliveSec: 60 });
    s.socket.on('error', () => {});
    mqtt.push(s);
  }
}

async function openAll(): Promise<{ opened: number; failed: number; firstError?: string }> {
  let next = 0;
  let failed = 0;
  let firstError: string | undefined;
  const worker = async () => {
    while (next < a.n) {
      const i = next++;
      try {
        await openOne(i);
      } catch (err) {
        failed++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: a.concurrency }, worker));
  return { opened: nats.length + mqtt.length, failed, firstError };
}

async function pingMqtt(s: MqttSession): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), 20_000);
    s.parser.on('packet', (p: Packet) => {
      if (p.cmd !== 'pingresp') return;
      clearTimeout(timer);
      s.socket.pause();
      resolve(true);
    });
    s.socket.on('data', (b: Buffer) => void s.parser.parse(b));
    s.socket.resume();
    s.socket.write(PINGREQ);
  });
}

async function pingAll(): Promise<number> {
  const ok = a.protocol === 'nats'
    ? await Promise.all(nats.map((nc) => nc.flush().then(() => true, () => false)))
    : await Promise.all(mqtt.map(pingMqtt));
  return ok.filter(Boolean).length;
}

async function closeAll(): Promise<void> {
  const closing = [
    ...nats.map((nc) => nc.close()),
    ...mqtt.map((s) => new Promise<void>((r) => { s.socket.once('close', () => r()); s.socket.end(DISCONNECT); })),
  ];
  await Promise.race([Promise.all(closing), new Promise((r) => setTimeout(r, 20_000))]);
  for (const s of mqtt) s.socket.destroy();
}

async function main(): Promise<void> {
  lifeline(a.maxMs);
  toParent({ type: 'ready', pid: process.pid });
  await command('go');
  toParent({ type: 'opened', ...(await openAll()) });
  await command('ping');
  toParent({ type: 'pinged', answered: await pingAll() });
  await command('close');
  await closeAll();
  toParent({ type: 'closed' });
  setTimeout(() => {
    process.disconnect?.();
    process.exit(0);
  }, 100);
}

main().catch(failChild);
