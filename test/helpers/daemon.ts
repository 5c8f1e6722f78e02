import { writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Clock } from '../../src/clock.js';
import type { Config } from '../../src/config/types.js';
import { createConcentrator, type Concentrator, type ConcentratorDeps } from '../../src/daemon.js';
import { formatAclJson } from '../../src/registry/acl-file.js';

export interface Device {
  uid: string;
  group: string;
  key: Buffer;
}

/** Log lines captured as objects, so tests can read them back. */
export class LogSink extends Writable {
  readonly lines: Array<Record<string, any>> = [];
  readonly raw: string[] = [];
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue;
      this.raw.push(line);
      this.lines.push(JSON.parse(line));
    }
    cb();
  }
  find(event: string): Array<Record<string, any>> {
    return this.lines.filter((l) => l.event === event);
  }
}

export function device(uid: string, group = 'Devices'): Device {
  const key = Buffer.alloc(16);
  Buffer.from(uid).copy(key); // deterministic per UID, distinct from the central's
  key[15] = 0x5a;
  return { uid, group, key };
}

/** Starts a daemon with `devices` in its ACL file; stops it at teardown. */
export async function startDaemon(
  t: { teardown(fn: () => unknown): void },
  config: Config,
  devices: Device[] = [],
  opts: { clock?: Clock; logLevel?: string; deps?: ConcentratorDeps } = {},
): Promise<{ daemon: Concentrator; port: number; logs: LogSink; config: Config }> {
  writeFileSync(config.acl.file, formatAclJson(devices));
  const logs = new LogSink();
  const logger = pino({ level: opts.logLevel ?? 'debug' }, logs);
  const daemon = createConcentrator(config, { ...opts.deps, logger, clock: opts.clock });
  t.teardown(() => daemon.close());
  const addrs = await daemon.start();
  return { daemon, port: addrs.tcp.port, logs, config };
}
