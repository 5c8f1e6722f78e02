/**
 * The MQTT 3.1.1 the peer load processes speak (Mosquitto and aedes; aedes has no MQTT 5):
 * mqtt.js's own codec (`mqtt-packet`) for the handshake, and QoS 0 PUBLISH frames laid out
 * and read by hand on the hot path, a read's answers in one write, as our rr load does with
 * our codec. (With mqtt-packet's parser on the hot path the MQTT load took 3.8x our load's
 * CPU per round trip and became what limited the MQTT rounds.)
 * The correlation id is the payload's first 2 bytes (our protocol carries its tracking number
 * in the header: the same 2 bytes).
 */
import net from 'node:net';
import { generate, parser as mqttParser, type Packet, type Parser } from 'mqtt-packet';

const PROTOCOL = { protocolId: 'MQTT', protocolVersion: 4 } as const;

export interface MqttSession {
  readonly socket: net.Socket;
  /** Fresh, with no listener: the caller feeds it the socket's data. */
  readonly parser: Parser;
}

/**
 * TCP connect, CONNECT (clean session, QoS 0 everywhere), then SUBSCRIBE to `topic` and wait
 * for its SUBACK. The returned socket is paused with no data listener.
 */
export async function openMqtt(o: { host: string; port: number; clientId: string; topic: string; keepaliveSec: number; timeoutMs?: number }): Promise<MqttSession> {
  const socket = net.connect({ host: o.host, port: o.port });
  socket.setNoDelay(true);
  const parser = mqttParser(PROTOCOL);
  const onData = (b: Buffer) => void parser.parse(b);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`MQTT handshake with ${o.host}:${o.port} took over ${o.timeoutMs ?? 30_000} ms`)), o.timeoutMs ?? 30_000);
      const fail = (err: Error) => { clearTimeout(timer); reject(err); };
      socket.once('error', fail);
      parser.on('error', fail);
      parser.on('packet', (p: Packet) => {
        if (p.cmd === 'connack') {
          if (p.returnCode !== 0) return fail(new Error(`CONNACK ${p.returnCode}`));
          socket.write(generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: o.topic, qos: 0 }] }));
        } else if (p.cmd === 'suback') {
          clearTimeout(timer);
          socket.off('error', fail);
          if (p.granted[0] === 0x80) reject(new Error(`SUBACK refused ${o.topic}`));
          else resolve();
        }
      });
      socket.on('data', onData);
      socket.once('connect', () => socket.write(generate({ cmd: 'connect', ...PROTOCOL, clean: true, clientId: o.clientId, keepalive: o.keepaliveSec })));
    });
  } catch (err) {
    socket.destroy();
    throw err;
  }
  socket.off('data', onData);
  socket.pause();
  return { socket, parser: mqttParser(PROTOCOL) };
}

/** Fixed header and topic of a QoS 0 PUBLISH whose payload is `payloadBytes` long: the same for every message on that topic. */
export function publishPrefix(topic: string, payloadBytes: number): Buffer {
  const t = Buffer.from(topic, 'utf8');
  const remaining = 2 + t.length + payloadBytes;
  const len: number[] = [];
  let x = remaining;
  do {
    let byte = x % 128;
    x = Math.floor(x / 128);
    if (x > 0) byte |= 0x80;
    len.push(byte);
  } while (x > 0);
  return Buffer.concat([Buffer.from([0x30, ...len, t.length >> 8, t.length & 0xff]), t]);
}

/**
 * Splits a socket's byte stream into MQTT packets and hands over each QoS 0 PUBLISH as offsets
 * into `buf` (no copy, no string); other packets are skipped. A partial packet waits for the next chunk.
 */
export class PublishReader {
  #rest: Buffer | undefined;

  /** Returns an error text when a packet is malformed (the caller drops the connection). */
  push(chunk: Buffer, onPublish: (buf: Buffer, topicStart: number, topicEnd: number, end: number) => void): string | undefined {
    const buf = this.#rest ? Buffer.concat([this.#rest, chunk]) : chunk;
    let i = 0;
    for (;;) {
      let j = i + 1;
      let len = 0;
      let mul = 1;
      let byte = 0x80;
      while (byte & 0x80 && j < buf.length) {
        byte = buf[j++]!;
        len += (byte & 0x7f) * mul;
        mul *= 128;
        if (mul > 128 ** 4) return 'remaining length over 4 bytes';
      }
      if (byte & 0x80 || j + len > buf.length) break; // header or body not complete yet
      const end = j + len;
      if ((buf[i]! & 0xf0) === 0x30) {
        if (buf[i]! & 0x06) return 'PUBLISH with QoS > 0 on a QoS 0 subscription';
        const topicEnd = j + 2 + buf.readUInt16BE(j);
        if (topicEnd > end) return 'PUBLISH topic longer than the packet';
        onPublish(buf, j + 2, topicEnd, end);
      }
      i = end;
      if (i >= buf.length) break;
    }
    // Node hands each read a buffer of its own, so keeping a view of it is safe.
    this.#rest = i < buf.length ? buf.subarray(i) : undefined;
    return undefined;
  }
}

export const PINGREQ = Buffer.from([0xc0, 0x00]);
export const DISCONNECT = Buffer.from([0xe0, 0x00]);
