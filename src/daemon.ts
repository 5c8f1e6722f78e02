// PLACEHOLDER (cli branch): the lead replaces this file with the real daemon wiring.
// It binds a plain TCP server on tcp.host/tcp.port so the CLI's start/stop and port-busy
// paths are real; it speaks no protocol.
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { Config } from './config/types.js';
import { listenError } from './errors.js';

export interface BoundAddress {
  readonly address: string;
  readonly port: number;
}

export interface Addresses {
  readonly tcp: BoundAddress;
  readonly udp?: BoundAddress;
  readonly http?: BoundAddress;
}

export interface Concentrator {
  start(): Promise<Addresses>;
  close(): Promise<void>;
  destroy(): void;
}

export function createConcentrator(config: Config, deps: { logger?: Logger; clock?: Clock } = {}): Concentrator {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let closing: Promise<void> | undefined;
  return {
    async start() {
      const srv = createServer((s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => s.destroy());
      });
      server = srv;
      await new Promise<void>((resolve, reject) => {
        srv.once('error', (err) => reject(listenError(err, config.tcp.host, config.tcp.port)));
        srv.listen(config.tcp.port, config.tcp.host, () => resolve());
      });
      const a = srv.address() as AddressInfo;
      deps.logger?.debug({ placeholder: true }, 'placeholder daemon listening');
      return { tcp: { address: a.address, port: a.port } };
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        if (!server?.listening) return resolve();
        server.close(() => resolve());
        for (const s of sockets) s.end();
      });
      return closing;
    },
    destroy() {
      for (const s of sockets) s.destroy();
      server?.close();
    },
  };
}
