import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer, Server as HttpsServer } from 'node:https';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { TlsFiles } from '../config/types.js';
import { listenOn } from '../servers/listen.js';
import { clientErrorListener } from './client-error.js';
import type { RequestListener } from 'node:http';

/** Node's per-server limits, from the `http:` section (the admin listener shares them). */
export interface HttpServerLimits {
  readonly headersTimeoutSec: number;
  /** load.ts keeps it above http.maxWaitSec, so a held /request is never cut by it. */
  readonly requestTimeoutSec: number;
  readonly keepAliveTimeoutSec: number;
  readonly maxHeaderBytes: number;
}

export interface HttpServerOptions {
  readonly host: string;
  readonly port: number;
  readonly tls?: TlsFiles;
  readonly limits: HttpServerLimits;
}

export interface HttpServerSettings {
  readonly headersTimeout: number;
  readonly requestTimeout: number;
  readonly keepAliveTimeout: number;
  readonly maxHeaderSize: number;
  readonly connectionsCheckingInterval: number;
}

/**
 * The limits as Node's server options, in ms. Node enforces the headers and request
 * timeouts only when it sweeps its connections, every `connectionsCheckingInterval` (30 s
 * by default, which would let a 10 s headers timeout run to 40 s): sweep at a tenth of the
 * shorter timeout, at most once a second.
 */
export function httpServerSettings(l: HttpServerLimits): HttpServerSettings {
  const headersTimeout = l.headersTimeoutSec * 1000;
  const requestTimeout = l.requestTimeoutSec * 1000;
  const sweep = Math.min(1000, Math.max(10, Math.min(headersTimeout, requestTimeout) / 10));
  return {
    headersTimeout, requestTimeout, keepAliveTimeout: l.keepAliveTimeoutSec * 1000, maxHeaderSize: l.maxHeaderBytes,
    connectionsCheckingInterval: Math.round(sweep),
  };
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
    return httpServerSettings(this.#opts.limits);
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
      ? createHttpsServer({ ...settings, ...readTls(tls) }, this.#api.handle)
      : createHttpServer(settings, this.#api.handle);
    server.keepAliveTimeout = settings.keepAliveTimeout;
    server.on('clientError', clientErrorListener(settings.maxHeaderSize));
    this.#server = server;
    return listenOn(server, this.#opts.host, this.#opts.port);
  }

  /**
   * SIGHUP: re-reads the certificate and key (at `files`, the paths of the reloaded config)
   * for the TLS handshakes to come. Connections already open, held requests included, keep
   * the context they started with. Throws, leaving the current context in place, when a
   * file cannot be read or cert and key do not form a valid pair. False: not an HTTPS server.
   */
  reloadTls(files: TlsFiles): boolean {
    const server = this.#server;
    if (!(server instanceof HttpsServer)) return false;
    const options = readTls(files);
    // Built first on its own: setSecureContext overwrites the server's key/cert fields before it can fail.
    createSecureContext(options);
    server.setSecureContext(options);
    return true;
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

/** TLS options of the HTTPS listener, files read now (TLS 1.2 at least). */
function readTls(files: TlsFiles): SecureContextOptions {
  return { cert: readFileSync(files.cert), key: readFileSync(files.key), minVersion: 'TLSv1.2' };
}
