import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { listenOn } from './listen.js';

/** Accepts TCP connections and hands each socket over; nothing clever. */
export class TcpServer {
  readonly #server: Server;

  constructor(onSocket: (socket: Socket) => void) {
    this.#server = createServer({ noDelay: true, pauseOnConnect: true }, onSocket);
    // Out of descriptors (EMFILE) must not crash the daemon: the accept is retried by libuv.
    this.#server.on('error', () => {});
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return listenOn(this.#server, host, port);
  }

  /** Stops accepting; existing sockets are untouched. */
  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
