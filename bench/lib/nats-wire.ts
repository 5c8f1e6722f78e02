/**
 * The NATS core protocol the peer load processes speak on the hot path: CONNECT, SUB, PUB and
 * MSG read and laid out by hand over one socket, a read's messages handed over as offsets
 * (no Msg object, no string per message) and a read's answers written at once, as our rr load
 * does with our codec. (With the `nats` client in callback mode the NATS load took about 2x
 * our load's CPU per round trip.) The idle connections of the memory figure use the client.
 */
import net from 'node:net';

const CRLF = Buffer.from('\r\n');
const SPACE = 0x20;

/**
 * TCP connect, wait for the server's INFO, then CONNECT (no echo, no +OK), SUB `subject` and a
 * PING whose PONG says the server has processed both. The socket is returned paused, with no listener.
 */
export async function openNats(o: { host: string; port: number; name: string; subject: string; timeoutMs?: number }): Promise<net.Socket> {
  const socket = net.connect({ host: o.host, port: o.port });
  socket.setNoDelay(true);
  let text = '';
  let onData: (b: Buffer) => void = () => {};
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`NATS handshake with ${o.host}:${o.port} took over ${o.timeoutMs ?? 30_000} ms`)), o.timeoutMs ?? 30_000);
      const fail = (err: Error) => { clearTimeout(timer); reject(err); };
      socket.once('error', fail);
      let connected = false;
      onData = (b: Buffer) => {
        text += b.toString('latin1');
        const err = /-ERR[^\r]*/.exec(text);
        if (err) return fail(new Error(`NATS: ${err[0]}`));
        if (!connected && text.includes('\r\n')) {
          connected = true;
          const opts = { verbose: false, pedantic: false, echo: false, name: o.name, lang: 'node-bench', version: '1', protocol: 1 };
          socket.write(`CONNECT ${JSON.stringify(opts)}\r\nSUB ${o.subject} 1\r\nPING\r\n`);
        } else if (connected && text.endsWith('PONG\r\n')) {
          clearTimeout(timer);
          socket.off('error', fail);
          resolve();
        }
      };
      socket.on('data', onData);
    });
  } catch (err) {
    socket.destroy();
    throw err;
  }
  socket.off('data', onData);
  socket.pause();
  return socket;
}

/** `PUB <subject> [reply] <bytes>\r\n`: the head of a message whose payload is `payloadBytes` long. */
export function pubHead(subject: string, reply: string | undefined, payloadBytes: number): Buffer {
  return Buffer.from(`PUB ${subject} ${reply ? `${reply} ` : ''}${payloadBytes}\r\n`, 'latin1');
}

export { CRLF };

/** Offsets of one MSG in the buffer handed to the callback; reply is empty (start = end) without one. */
export type OnMsg = (buf: Buffer, subjectStart: number, subjectEnd: number, replyStart: number, replyEnd: number, payloadStart: number, payloadEnd: number) => void;

/** Splits the server's stream into protocol lines and MSG payloads; a partial one waits for the next chunk. */
export class NatsReader {
  #rest: Buffer | undefined;

  /** Returns an error text on -ERR or a malformed MSG; calls `onPing` for each server PING (answer PONG). */
  push(chunk: Buffer, onMsg: OnMsg, onPing: () => void): string | undefined {
    const buf = this.#rest ? Buffer.concat([this.#rest, chunk]) : chunk;
    let i = 0;
    while (i < buf.length) {
      const eol = buf.indexOf(CRLF, i);
      if (eol < 0) break;
      const c = buf[i];
      if (c === 0x4d) { // MSG <subject> <sid> [reply-to] <#bytes>
        const f: number[] = [];
        let start = i + 4;
        for (let j = start; j <= eol; j++) {
          if (j === eol || buf[j] === SPACE) {
            f.push(start, j);
            start = j + 1;
          }
        }
        if (f.length !== 6 && f.length !== 8) return `malformed MSG line: ${buf.toString('latin1', i, eol)}`;
        let size = 0;
        for (let j = f[f.length - 2]!; j < f[f.length - 1]!; j++) size = size * 10 + buf[j]! - 0x30;
        const payloadStart = eol + 2;
        if (payloadStart + size + 2 > buf.length) break; // payload not complete yet
        const hasReply = f.length === 8;
        onMsg(buf, f[0]!, f[1]!, hasReply ? f[4]! : 0, hasReply ? f[5]! : 0, payloadStart, payloadStart + size);
        i = payloadStart + size + 2;
        continue;
      }
      if (c === 0x2d) return `NATS: ${buf.toString('latin1', i, eol)}`; // -ERR
      if (c === 0x50 && buf[i + 1] === 0x49) onPing(); // PING (PONG, +OK and INFO need nothing)
      i = eol + 2;
    }
    // Node hands each read a buffer of its own, so keeping a view of it is safe.
    this.#rest = i < buf.length ? buf.subarray(i) : undefined;
    return undefined;
  }
}

export const PONG = Buffer.from('PONG\r\n');
