import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TlsFiles } from '../config/types.js';
import { listenOn } from '../servers/listen.js';
import type { RequestListener } from 'node:http';

export interface HttpServerOptions {
  readonly host: string;
  readonly port: number;
  readonly tls?: TlsFiles;
  readonly maxWaitSec: number;
}

export interface HttpServerSettings {
  readonly headersTimeout: number;
  readonly requestTimeout: number;
  readonly keepAliveTimeout: number;
  readonly maxHeaderSize: number;
}

/**
 * Node's limits for the API server. `requestTimeout` (time to receive a whole request) is
 * kept above the longest a request may be held, so a slow client's timer can never cut a
 * held exchange short, whatever Node version decides when that timer stops.
 */
export function httpServerSettings(maxWaitSec: number): HttpServerSettings {
  return { headersTimeout: 10_000, requestTimeout: Math.max(30_000, (maxWaitSec + 10) * 1000), keepAliveTimeout: 5_000, maxHeaderSize: 16 * 1024 };
}

/** Carries the HTTP API over node:http, or node:https when `tls` is set (TLS 1.2 at least). */
export class HttpServer {
  readonly #opts: HttpServerOptions;
  readonly #api: { readonly handle: RequestListener };
  #server: Server | undefined;
  #closed: Promise<void> | undefined;

  constructor(opts: HttpServerOptions, api: { readonly handle: RequestListener }) {
    this.#opts = opts;
    this.#api = api;
  }

  get settings(): HttpServerSettings {
    return httpServerSettings(this.#opts.maxWaitSec);
  }

  /** The node server, once listening (tests read its limits). */
  get server(): Server | undefined {
    return this.#server;
  }

  /** Reads the certificate files (once) and listens; a busy port fails with ERR_IOTS_PORT_IN_USE. */
  async listen(): Promise<AddressInfo> {
    const settings = this.settings;
    const tls = this.#opts.tls;
    const server: Server = tls
      ? createHttpsServer({ ...settings, cert: readFileSync(tls.cert), key: readFileSync(tls.key), minVersion: 'TLSv1.2' }, this.#api.handle)
      : createHttpServer(settings, this.#api.handle);
    server.keepAliveTimeout = settings.keepAliveTimeout;
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      // Malformed requests and header overflows get Node's minimal answer; nothing else to do.
      if (socket.writable && err.code !== 'ECONNRESET') socket.end(err.code === 'HPE_HEADER_OVERFLOW' ? 'HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n' : 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
    this.#server = server;
    return listenOn(server, this.#opts.host, this.#opts.port);
  }

  /**
   * Stops accepting and closes idle keep-alive connections at once; connections still busy
   * end after their answer (the API adds Connection: close while closing), or are cut after
   * `graceMs`. Idempotent. The grace is wall-clock time (like the TCP side's shutdown grace),
   * not the injected clock: it bounds how long shutdown may take, it is no protocol deadline.
   */
  close(graceMs = 2_000): Promise<void> {
    const server = this.#server;
    if (!server?.listening) return this.#closed ?? Promise.resolve();
    this.#closed ??= new Promise<void>((resolve) => {
      const force = setTimeout(() => server.closeAllConnections(), graceMs);
      force.unref();
      server.close(() => {
        clearTimeout(force);
        resolve();
      });
      server.closeIdleConnections();
    });
    return this.#closed;
  }

  /** Drops every connection now. Idempotent. */
  destroy(): void {
    const server = this.#server;
    if (!server) return;
    if (server.listening) void this.close(0);
    server.closeAllConnections();
  }
}
