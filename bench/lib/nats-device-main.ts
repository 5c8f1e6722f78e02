/**
 * Load child: devices of the NATS peer rounds, one connection each, subscribed to
 * devices.<i>.req and answering every request with its payload (`msg.respond`). Stops on
 * 'stop' or at `maxMs`.
 */
import { connect, type NatsConnection } from 'nats';
import { childPayload, failChild, lifeline, toParent, type Msg } from './child.js';
import type { DeviceArgs } from './peer-round.js';

const a = childPayload<DeviceArgs>();
const conns: NatsConnection[] = [];

async function finish(): Promise<void> {
  await Promise.race([Promise.all(conns.map((c) => c.close())), new Promise((r) => setTimeout(r, 3_000))]);
  toParent({ type: 'done' });
  process.disconnect?.();
  process.exit(0);
}

async function main(): Promise<void> {
  lifeline(a.maxMs + 10_000);
  const deadline = setTimeout(() => void finish(), a.maxMs);
  process.on('message', (m: Msg) => {
    if (m.type === 'stop') {
      clearTimeout(deadline);
      void finish();
    }
  });
  for (const i of a.indices) {
    const nc = await connect({ servers: `${a.host}:${a.port}`, name: `bench-device-${i}`, reconnect: false });
    nc.subscribe(`devices.${i}.req`, { callback: (err, m) => { if (!err) m.respond(m.data); } });
    await nc.flush();
    conns.push(nc);
  }
  toParent({ type: 'ready', pid: process.pid });
}

main().catch(failChild);
