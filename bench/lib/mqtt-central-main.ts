/**
 * Load child: the central of the MQTT peer rounds (Mosquitto, aedes), rr-central-main's loop
 * over MQTT 3.1.1 QoS 0. Publishes each request to devices/<i>/req with a 2-byte correlation id
 * (device × inFlight + slot) before the payload; the devices echo to devices/<i>/res, which it
 * subscribes to as devices/+/res. One socket, one parser, one write per read.
 */
import { childPayload, failChild, lifeline, toParent, type Msg } from './child.js';
import { DISCONNECT, openMqtt, publishPrefix, PublishReader } from './mqtt-wire.js';
import type { CentralArgs } from './rr-central-main.js';
import { DRAIN_MS, RrLoop } from './rr-loop.js';

const a = childPayload<CentralArgs>();
const CORR_BYTES = 2;
const data = Buffer.alloc(a.payloadBytes, 0x5a);
const resTopicBytes = Array.from({ length: a.objects }, (_, i) => Buffer.byteLength(`devices/${i}/res`));
const prefixes = Array.from({ length: a.objects }, (_, i) => publishPrefix(`devices/${i}/req`, CORR_BYTES + a.payloadBytes));

async function main(): Promise<void> {
  lifeline(a.warmupMs + a.measureMs + DRAIN_MS + 60_000);
  const { socket } = await openMqtt({ host: a.host, port: a.port, clientId: 'bench-central', topic: 'devices/+/res', keepaliveSec: 0 });
  toParent({ type: 'ready', pid: process.pid });
  await new Promise<void>((resolve) => process.on('message', (m: Msg) => m.type === 'go' && resolve()));
  let out: Buffer[] = [];
  const loop = new RrLoop(a, (obj, slot) => {
    const prefix = prefixes[obj]!;
    const frame = Buffer.allocUnsafe(prefix.length + CORR_BYTES + data.length);
    prefix.copy(frame, 0);
    frame.writeUInt16BE(obj * a.inFlight + slot, prefix.length);
    data.copy(frame, prefix.length + CORR_BYTES);
    out.push(frame);
  }, () => {
    if (out.length === 0) return;
    socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
    out = [];
  });
  const reader = new PublishReader();
  const onPublish = (buf: Buffer, topicStart: number, topicEnd: number, end: number): void => {
    const k = buf.readUInt16BE(topicEnd);
    const obj = Math.floor(k / a.inFlight);
    // The topic is checked by length only: the central subscribed to devices/+/res alone.
    loop.answered(obj, k - obj * a.inFlight, end - topicEnd === CORR_BYTES + a.payloadBytes && topicEnd - topicStart === resTopicBytes[obj]);
  };
  socket.on('data', (chunk: Buffer) => {
    loop.now = performance.now();
    const err = reader.push(chunk, onPublish);
    if (err) failChild(new Error(err));
    loop.endOfRead();
  });
  socket.on('error', failChild);
  socket.resume();
  const result = await loop.run();
  socket.end(DISCONNECT);
  toParent(result as unknown as Msg);
  setTimeout(() => {
    process.disconnect?.();
    process.exit(0);
  }, 200);
}

main().catch(failChild);
