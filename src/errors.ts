/**
 * Coded errors of the daemon. Callers and tests branch on `code`, never on the message.
 * Wire-level codec errors live in protocol/errors.ts.
 */

export const ErrorCode = {
  CONFIG: 'ERR_IOTS_CONFIG',
  PORT_IN_USE: 'ERR_IOTS_PORT_IN_USE',
  LISTEN: 'ERR_IOTS_LISTEN',
  BOOTSTRAP: 'ERR_IOTS_BOOTSTRAP',
  CLOSED: 'ERR_IOTS_CLOSED',
  WEBHOOK_URL: 'ERR_IOTS_WEBHOOK_URL',
  WEBHOOK_CA: 'ERR_IOTS_WEBHOOK_CA',
  /** `cluster.redis` cannot be used at start: unreachable in time, a refused password, an unreadable CA. */
  CLUSTER_REDIS: 'ERR_IOTS_CLUSTER_REDIS',
  /** A starting node speaks no node-protocol version in common with a live node of its cluster (a rolling upgrade skipped a version). */
  CLUSTER_PROTOCOL: 'ERR_IOTS_CLUSTER_PROTOCOL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Base of coded errors; subsystems (HTTP API, webhooks) add their own `ERR_IOTS_*` codes. */
export class IotsError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IotsError';
    this.code = code;
  }
}

/** One problem in the configuration: `path` is the dotted key path ('tcp.port'). */
export interface ConfigIssue {
  readonly path: string;
  /** 1-based line in the YAML file, when the problem is located there. */
  readonly line?: number;
  readonly message: string;
}

export class ConfigError extends IotsError {
  readonly issues: readonly ConfigIssue[];
  readonly file: string | undefined;
  constructor(issues: readonly ConfigIssue[], file?: string) {
    const first = issues[0];
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
    super(ErrorCode.CONFIG, first ? `invalid configuration: ${formatIssue(first, file)}${more}` : 'invalid configuration');
    this.name = 'ConfigError';
    this.issues = Object.freeze([...issues]);
    this.file = file;
  }
}

/** `file:line: key.path: message`; the parts that are unknown are left out. */
export function formatIssue(issue: ConfigIssue, file?: string): string {
  const where = [file, issue.line].filter((p) => p !== undefined && p !== '').join(':');
  const key = issue.path === '' ? '' : `${issue.path}: `;
  return `${where ? `${where}: ` : ''}${key}${issue.message}`;
}

export class PortInUseError extends IotsError {
  readonly host: string;
  readonly port: number;
  constructor(host: string, port: number, options?: { cause?: unknown }) {
    super(ErrorCode.PORT_IN_USE, `port ${port} on ${host} is already in use`, options);
    this.name = 'PortInUseError';
    this.host = host;
    this.port = port;
  }
}

/** Turns a listen() failure into a coded error that names the address. */
export function listenError(err: unknown, host: string, port: number): IotsError {
  const sysCode = (err as NodeJS.ErrnoException | undefined)?.code;
  if (sysCode === 'EADDRINUSE') return new PortInUseError(host, port, { cause: err });
  const reason = err instanceof Error ? err.message : String(err);
  return new IotsError(ErrorCode.LISTEN, `cannot listen on ${host}:${port}: ${reason}`, { cause: err });
}
