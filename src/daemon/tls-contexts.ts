import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { TlsFiles } from '../config/types.js';

export function loadSecureContext(files: TlsFiles): SecureContext {
  return createSecureContext({ cert: readFileSync(files.cert), key: readFileSync(files.key), minVersion: 'TLSv1.2' });
}

/**
 * Applies a listener's re-read certificate (SIGHUP; turning TLS on or off needs a restart).
 * A bad file is logged and reported as [`name.tls`]; that listener keeps its certificate.
 */
export function reloadTls(log: Logger, name: 'tcp' | 'http' | 'admin', files: TlsFiles | undefined, apply: (files: TlsFiles) => void): string[] {
  if (!files) return [];
  try {
    apply(files);
    log.info({ event: 'tls-reloaded', listener: name, cert: files.cert }, `${name} certificate re-read`);
    return [];
  } catch (err) {
    log.error({ event: 'tls-reload-failed', listener: name, cert: files.cert, err: (err as Error).message }, `${name} certificate not reloaded; the previous one stays`);
    return [`${name}.tls`];
  }
}
