import type { ServerResponse } from 'node:http';
import type { HttpApiError } from './errors.js';

/** Writes a complete JSON answer (Content-Length, no chunking); `close` ends the connection after it. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}, close = false): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  const all: Record<string, string | number> = { ...headers, 'Content-Length': Buffer.byteLength(text) };
  if (text !== '') all['Content-Type'] = 'application/json; charset=utf-8';
  if (close) all['Connection'] = 'close';
  res.writeHead(status, all).end(text);
}

export function sendError(res: ServerResponse, err: HttpApiError, close = false): void {
  sendJson(res, err.status, err.toJSON(), { ...err.headers }, close);
}

/** True when the answer can no longer reach the caller (it disconnected, or it was answered). */
export function isGone(res: ServerResponse): boolean {
  return res.destroyed || res.writableEnded || res.headersSent;
}
