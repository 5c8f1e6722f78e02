import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../src/config/types.js';

export const CENTRAL_KEY = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

type DeepPartial<T> = { [K in keyof T]?: T[K] extends Buffer ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** A complete Config for tests: loopback, port 0, a temporary ACL file; `over` replaces parts. */
export function testConfig(t: { teardown(fn: () => void): void }, over: DeepPartial<Config> = {}): Config {
  const dir = mkdtempSync(join(tmpdir(), 'iots-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const base: Config = {
    baseDir: dir,
    keepSessionSec: 60,
    tcp: { host: '127.0.0.1', port: 0, requestTimeoutSec: 10, handshakeTimeoutSec: 10, maxConnections: 1000, maxTransmissionBytes: 1 << 20, pingIdleSec: 0 },
    udp: { enabled: false, host: '127.0.0.1', port: 0, maxDatagramBytes: 4096, maxDatagramsPerSecPerToken: 100, recvBufferBytes: 4 << 20 },
    http: {
      enabled: false, host: '127.0.0.1', port: 0, maxBodyBytes: 524288, maxWaitSec: 30,
      headersTimeoutSec: 10, requestTimeoutSec: 40, keepAliveTimeoutSec: 5, maxHeaderBytes: 16384, maxJsonDepth: 32, maxHeldRequests: 10000,
    },
    central: { authKey: CENTRAL_KEY, webhooks: { timeoutSec: 5, queueMaxItems: 10000, queueMaxBytes: 64 << 20, connections: 64, maxAttempts: 5, retryBaseSec: 0.5, retryMaxSec: 30 } },
    groups: { Devices: { telemetry: true, telemetryTokenExpMin: 60 }, Stations: { telemetry: false, telemetryTokenExpMin: 0 } },
    acl: { file: join(dir, 'acl.json') },
    buffers: { maxPerSession: 1000, maxBytesPerSession: 1 << 20, maxTotalBytes: 1 << 28 },
    limits: {
      maxRequestsInFlightPerObject: 32, maxRequestsInFlightPerTarget: 256, writeBufferBytes: 1 << 20, drainTimeoutSec: 15,
      transmissionTimeoutSec: 30, authFailuresPerMinute: 15, authBanSec: 300, acceptPerSec: 1000,
    },
    log: { level: 'silent' },
  };
  return merge(base, over) as Config;
}

function merge(a: any, b: any): any {
  if (b === undefined) return a;
  if (typeof a !== 'object' || a === null || Buffer.isBuffer(a) || typeof b !== 'object' || b === null || Buffer.isBuffer(b)) return b;
  const out: any = { ...a };
  for (const k of Object.keys(b)) out[k] = merge(a[k], b[k]);
  return out;
}
