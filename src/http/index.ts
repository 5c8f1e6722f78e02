import type { RequestListener } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { HttpApi, type AclReplacer } from './http-api.js';
import { HttpServer, type HttpServerLimits } from './http-server.js';
import type { CentralRequester } from './request-route.js';
import type { OpsApi } from './ops-api.js';

export { HttpApi, ROUTES, type AclReplacer, type HttpApiOptions } from './http-api.js';
export { HttpServer, httpServerSettings, type HttpServerLimits, type HttpServerSettings } from './http-server.js';
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
export function createHttpSide(config: Config, deps: { router: CentralRequester; acl: AclReplacer; log: Logger; ops?: OpsApi }): HttpSide {
  const h = config.http;
  const api = new HttpApi({
    authKey: config.central.authKey,
    maxBodyBytes: h.maxBodyBytes,
    defaultTimeoutSec: config.tcp.requestTimeoutSec,
    maxWaitSec: h.maxWaitSec,
    maxJsonDepth: h.maxJsonDepth,
    maxHeldRequests: h.maxHeldRequests,
  }, deps);
  const ops = deps.ops;
  const handler = ops ? { handle: ((req, res) => (ops.owns(req) ? ops.handle(req, res) : api.handle(req, res))) as RequestListener } : api;
  const server = new HttpServer({ host: h.host, port: h.port, tls: h.tls, limits: httpLimits(config) }, handler);
  return { api, server };
}

/**
 * Node's limits from the `http:` section. The admin listener uses the same: its routes read
 * no body and hold nothing, so maxJsonDepth and maxHeldRequests have nothing to bound there.
 */
export function httpLimits(config: Config): HttpServerLimits {
  const { headersTimeoutSec, requestTimeoutSec, keepAliveTimeoutSec, maxHeaderBytes } = config.http;
  return { headersTimeoutSec, requestTimeoutSec, keepAliveTimeoutSec, maxHeaderBytes };
}
