/**
 * Child process: an aedes MQTT broker (in-memory persistence, its defaults) on 127.0.0.1:0,
 * alone in its process so its CPU and RSS are its own. On 'mem' it reports its RSS after two
 * forced GCs and their settle, as daemon-main does, so the two Node brokers are measured alike.
 */
import net from 'node:net';
import { Aedes } from 'aedes';
import { childPayload, failChild, lifeline, toParent, type Msg } from './child.js';
import { MEM_SETTLE_MS, forceGcs } from './settled-memory.js';

async function main(): Promise<void> {
  lifeline(childPayload<{ maxMs: number }>().maxMs);
  const broker = await Aedes.createBroker();
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    broker.handle(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.on('message', (m: Msg) => {
    if (m.type === 'mem') {
      forceGcs();
      setTimeout(() => toParent({ type: 'mem', rss: process.memoryUsage().rss, connections: broker.connectedClients }), MEM_SETTLE_MS);
    } else if (m.type === 'stop') {
      server.close();
      broker.close(() => {
        process.disconnect?.();
        process.exit(0);
      });
      setTimeout(() => process.exit(0), 3_000).unref();
    }
  });
  toParent({ type: 'ready', port: (server.address() as net.AddressInfo).port, pid: process.pid });
}

main().catch(failChild);
