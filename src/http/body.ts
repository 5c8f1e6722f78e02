import type { IncomingMessage } from 'node:http';
import { HttpApiError } from './errors.js';

/**
 * PROTOCOL §8: bodies are JSON in UTF-8. Parameters other than charset=utf-8 are refused.
 * No Content-Type at all is read as JSON: centrals written against the first concentrator
 * send none. A type that is present and not JSON (even an empty one) stays 415.
 */
export function checkJsonContentType(req: IncomingMessage): void {
  const raw = req.headers['content-type'];
  if (raw === undefined) return;
  const [type, ...params] = raw.split(';').map((s) => s.trim().toLowerCase());
  const charsetOk = params.every((p) => p === '' || p === 'charset=utf-8' || p === 'charset="utf-8"');
  if (type !== 'application/json' || !charsetOk) {
    throw new HttpApiError('ERR_IOTS_HTTP_MEDIA_TYPE', `Content-Type: must be application/json (UTF-8), not ${JSON.stringify(raw)}`);
  }
}

/**
 * Reads the whole body, refusing (413) as soon as it would pass `maxBytes`: a declared
 * Content-Length over the limit is refused before reading anything, and a chunked body is
 * never buffered beyond the limit (reading stops; the caller answers with Connection: close).
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const tooLarge = () => new HttpApiError('ERR_IOTS_HTTP_BODY_TOO_LARGE', `body: larger than the limit of ${maxBytes} bytes`);
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        req.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => { cleanup(); resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)); };
    const onError = (err: Error) => { cleanup(); reject(err); };
    const onClose = () => { cleanup(); reject(new Error('request closed before its body ended')); };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
