import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { isIPv6 } from 'node:net';
import { listenError } from '../errors.js';

export interface UdpServerOptions {
  /** Kernel receive buffer asked for, so bursts are not lost while the loop is busy. The kernel may cap it (net.core.rmem_max). */
  readonly recvBufferSize: number;
}

/** Receives UDP datagrams and hands each over; it never sends anything (PROTOCOL §7: no answers). */
export class UdpServer {
  readonly #onDatagram: (msg: Buffer, peer: RemoteInfo) => void;
  readonly #opts: UdpServerOptions;
  #socket: Socket | undefined;
  #closing: Promise<void> | undefined;

  constructor(onDatagram: (msg: Buffer, peer: RemoteInfo) => void, opts: UdpServerOptions) {
    this.#onDatagram = onDatagram;
    this.#opts = opts;
  }

  /** Binds; rejects with a coded error (ERR_IOTS_PORT_IN_USE, ERR_IOTS_LISTEN). */
  listen(host: string, port: number): Promise<AddressInfo> {
    const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', recvBufferSize: this.#opts.recvBufferSize });
    this.#socket = socket;
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        socket.off('listening', onListening);
        this.#socket = undefined;
        socket.close();
        reject(listenError(err, host, port));
      };
      const onListening = () => {
        socket.off('error', onError);
        // A receive error must not crash the daemon; datagrams keep flowing.
        socket.on('error', () => {});
        socket.on('message', this.#onDatagram);
        resolve(socket.address());
      };
      socket.once('error', onError);
      socket.once('listening', onListening);
      socket.bind(port, host);
    });
  }

  /** The receive buffer the kernel granted (Linux reports twice the usable size), or undefined before listen. */
  get recvBufferSize(): number | undefined {
    try {
      return this.#socket?.getRecvBufferSize();
    } catch {
      return undefined;
    }
  }

  /** Stops receiving. Idempotent. */
  close(): Promise<void> {
    const socket = this.#socket;
    if (!socket) return Promise.resolve();
    this.#closing ??= new Promise((resolve) => socket.close(() => resolve()));
    return this.#closing;
  }
}
