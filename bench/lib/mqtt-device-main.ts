/**
 * Load child: devices of the MQTT peer rounds. Each subscribes to devices/<i>/req and echoes
 * every request's payload (correlation id included) to devices/<i>/res, a read's answers in
 * one write, as rr-object-main does. Stops on 'stop' or at `maxMs`.
 */
import type { Socket } from 'node:net';
import { childPayload, failChild, lifeline, toParent, type Msg } from './child.js';
import { DISCONNECT, openMqtt, publishPrefix, PublishReader } from './mqtt-wire.js';
import type { DeviceArgs } from './peer-round.js';


const CORR_BYTES = 2;
const a = childPayload<DeviceArgs>();
const sockets: Socket[] = [];

function serve(i: number, socket: Socket): void {
  const prefix = publishPrefix(`devices/${i}/res`, CORR_BYTES + a.payloadBytes);
  const reader = new PublishReader();
  let out: Buffer[] = [];
  const onPublish = (buf: Buffer, _topicStart: number, topicEnd: number, end: number): void => {
    out.push(prefix, buf.subarray(topicEnd, end));
  };
  socket.on('data', (chunk: Buffer) => {
    const err = reader.push(chunk, onPublish);
    if (err) return void socket.destroy(new Error(err));
    if (out.length === 0) return;
    socket.write(Buffer.concat(out));
    out = [];
  });
  socket.on('error', () => {});
  socket.resume();
}

async function finish(): Promise<void> {
  const closed = sockets.map((s) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r()))));
  for (const s of sockets) s.end(DISCONNECT);
  await Promise.race([Promise.all(closed), new Promise((r) => setTimeout(r, 3_000))]);
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
    const { socket } = await openMqtt({ host: a.host, port: a.port, clientId: `bench-device-${i}`, topic: `devices/${i}/req`, keepaliveSec: 0 });
    sockets.push(socket);
    serve(i, socket);
  }
  toParent({ type: 'ready', pid: process.pid });
}

main().catch(failChild);
