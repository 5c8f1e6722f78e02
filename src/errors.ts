/** Coded daemon errors: tests assert `code`, never the message. */
export class IotsError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IotsError';
    this.code = code;
  }
}

export class ListenError extends IotsError {
  constructor(readonly what: string, readonly host: string, readonly port: number, cause: NodeJS.ErrnoException) {
    const why = cause.code === 'EADDRINUSE' ? 'is already in use' : cause.code === 'EACCES' ? 'needs more privileges' : `failed (${cause.code ?? cause.message})`;
    super(cause.code === 'EADDRINUSE' ? 'ERR_IOTS_PORT_IN_USE' : 'ERR_IOTS_LISTEN', `${what} port ${port} on ${host} ${why}`, { cause });
  }
}
