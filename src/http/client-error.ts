import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { HttpApiError } from './errors.js';

/**
 * What Node reports on `clientError` (no request object exists yet, or it was cut) restated
 * as an API error: a headers or request timeout is 408, headers over http.maxHeaderBytes 431,
 * anything the parser refused 400.
 */
export function clientErrorAnswer(err: NodeJS.ErrnoException, maxHeaderBytes: number): HttpApiError {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return new HttpApiError('ERR_IOTS_HTTP_REQUEST_TIMEOUT', 'request: not received in time (http.headersTimeoutSec for the headers, http.requestTimeoutSec for the whole request)');
  }
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    return new HttpApiError('ERR_IOTS_HTTP_HEADERS_TOO_LARGE', `headers: larger than the limit of ${maxHeaderBytes} bytes (http.maxHeaderBytes)`);
  }
  return new HttpApiError('ERR_IOTS_HTTP_MALFORMED', `request: not valid HTTP/1.1 (${err.code ?? 'parse error'})`);
}

/** A complete HTTP/1.1 answer written straight to the socket; the connection then closes. */
export function rawErrorResponse(e: HttpApiError): string {
  const body = JSON.stringify(e.toJSON());
  return `HTTP/1.1 ${e.status} ${STATUS_CODES[e.status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\n`
    + `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/** The server's `clientError` listener. */
export function clientErrorListener(maxHeaderBytes: number): (err: NodeJS.ErrnoException, socket: Duplex) => void {
  return (err, socket) => {
    // As Node's own handler: answer only when nothing of a response went out on this socket yet.
    const started = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
    if (err.code === 'ECONNRESET' || !socket.writable || started) {
      socket.destroy();
      return;
    }
    socket.end(rawErrorResponse(clientErrorAnswer(err, maxHeaderBytes)));
  };
}
