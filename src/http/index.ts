import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { HttpApi, type AclReplacer } from './http-api.js';
import { HttpServer } from './http-server.js';
import type { CentralRequester } from './request-route.js';

export { HttpApi, ROUTES, DEFAULT_MAX_HELD_REQUESTS, type AclReplacer, type HttpApiOptions } from './http-api.js';
export { HttpServer, httpServerSettings, type HttpServerSettings } from './http-server.js';
export { HttpApiError, HTTP_ERROR_STATUS, type HttpErrorCode } from './errors.js';
export type { CentralRequester } from './request-route.js';

/** The HTTP(S) API (PROTOCOL §8): the request handler and the server that carries it. */
export interface HttpSide {
  readonly api: HttpApi;
  readonly server: HttpServer;
}

/** Builds the API from the (trusted) config; nothing listens until `server.listen()`. */
export function createHttpSide(config: Config, deps: { router: CentralRequester; acl: AclReplacer; log: Logger; maxHeldRequests?: number }): HttpSide {
  const api = new HttpApi({
    authKey: config.central.authKey,
    maxBodyBytes: config.http.maxBodyBytes,
    defaultTimeoutSec: config.tcp.requestTimeoutSec,
    maxWaitSec: config.http.maxWaitSec,
    maxHeldRequests: deps.maxHeldRequests,
  }, deps);
  const server = new HttpServer({ host: config.http.host, port: config.http.port, tls: config.http.tls, maxWaitSec: config.http.maxWaitSec }, api);
  return { api, server };
}
