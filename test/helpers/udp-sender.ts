import { createSocket, type Socket } from 'node:dgram';

/** A UDP client socket on 127.0.0.1:0 that records anything sent back to it (there must be nothing). */
export class UdpSender {
  readonly replies: Buffer[] = [];
  readonly #socket: Socket;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('message', (m) => this.replies.push(m));
  }

  static async open(t: { teardown(fn: () => unknown): void }): Promise<UdpSender> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const s = new UdpSender(socket);
    t.teardown(() => new Promise<void>((r) => socket.close(() => r())));
    return s;
  }

  send(port: number, bytes: Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.#socket.send(bytes, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  }
}
