/** The IoTSocket client SDK: `iotsocket-concentrator/client`. */
export { ClientError, ClientErrorCode, type ClientErrorDetails } from './errors.js';
export { openSession, normalizeKey, type OpenSessionOptions, type OpenedSession } from './open-session.js';
export { SessionClient, type SessionClientOptions, type IncomingRequest, type SessionEnd, type SessionSink } from './session-client.js';
export type { ResponseResult } from './request-tracker.js';
export type { BaseClientOptions, CloseEvent, RequestEvent } from './base-client.js';
export type { HandlerResult, RequestHandler } from './request-serving.js';
export { ObjectClient, type ObjectClientOptions, type RequestOptions } from './object-client.js';
export { CentralClient, type CentralClientOptions, type CentralRequest, type AclEntryInput } from './central-client.js';
export { json, ascii, utf8, binary, decodePayloadJson, toPayload, type PayloadInput } from './payload-helpers.js';
export { CloseCode, Format, ResponseCode, ToT, type Payload } from '../protocol/index.js';
