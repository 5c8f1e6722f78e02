import { InvalidArgumentError } from 'commander';
import { FORMAT_NAMES, Format } from '../protocol/index.js';

/** `host:port` (IPv6 in brackets: `[::1]:50505`). */
export function parseHostPort(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535) throw new InvalidArgumentError('expected HOST:PORT, e.g. 127.0.0.1:50505');
  return { host: (m[1] ?? m[2])!, port };
}

export function parseKey(value: string): Buffer {
  if (!/^[0-9a-fA-F]{32}$/.test(value)) throw new InvalidArgumentError('expected 32 hex digits');
  return Buffer.from(value, 'hex');
}

export function parsePositive(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
}

const FORMATS = Object.values(FORMAT_NAMES);
export function parseFormat(value: string): 'BINARY' | 'ASCII' | 'UTF8' | 'JSON' {
  const f = value.toUpperCase();
  if (!FORMATS.includes(f as never)) throw new InvalidArgumentError(`expected one of ${FORMATS.join(', ')}`);
  return f as 'BINARY' | 'ASCII' | 'UTF8' | 'JSON';
}

export { Format };
