import type { RequestListener } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { HttpApi, type AclReplacer } from './http-api.js';
import { HttpServer } from './http-server.js';
import type { CentralRequester } from './request-route.js';
import type { OpsApi } from './ops-api.js';

export { HttpApi, ROUTES, DEFAULT_MAX_HELD_REQUESTS, type AclReplacer, type HttpApiOptions } from './http-api.js';
export { HttpServer, httpServerSettings, type HttpServerSettings } from './http-server.js';
export { HttpApiError, HTTP_ERROR_STATUS, type HttpErrorCode } from './errors.js';
export type { CentralRequester } from './request-route.js';
export { OpsApi, OPS_ROUTES, type OpsDeps } from './ops-api.js';

/** The HTTP(S) API (PROTOCOL §8): the request handler and the server that carries it. */
export interface HttpSide {
  readonly api: HttpApi;
  readonly server: HttpServer;
}

/**
 * Builds the API from the (trusted) config; nothing listens until `server.listen()`. With
 * `ops`, the same listener also answers health, metrics and the admin API.
 */
export function createHttpSide(config: Config, deps: { router: CentralRequester; acl: AclReplacer; log: Logger; maxHeldRequests?: number; ops?: OpsApi }): HttpSide {
  const api = new HttpApi({
    authKey: config.central.authKey,
    maxBodyBytes: config.http.maxBodyBytes,
    defaultTimeoutSec: config.tcp.requestTimeoutSec,
    maxWaitSec: config.http.maxWaitSec,
    maxHeldRequests: deps.maxHeldRequests,
  }, deps);
  const ops = deps.ops;
  const handler = ops ? { handle: ((req, res) => (ops.owns(req) ? ops.handle(req, res) : api.handle(req, res))) as RequestListener } : api;
  const server = new HttpServer({ host: config.http.host, port: config.http.port, tls: config.http.tls, maxWaitSec: config.http.maxWaitSec }, handler);
  return { api, server };
}
