import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterConfig, Config } from '../../src/config/types.js';
import { formatAclJson } from '../../src/registry/acl-file.js';

/** The central key every bench run uses (a bench fixture, not a secret). */
export const BENCH_CENTRAL_KEY = Buffer.from('0f1e2d3c4b5a69788796a5b4c3d2e1f0', 'hex');
export const BENCH_GROUP = 'Bench';
/** limits.acceptPerSec: the default 1 000/s would cap the handshake figures; this is above any measured rate. */
export const BENCH_ACCEPT_PER_SEC = 20_000;

/** Config as it crosses the process boundary: JSON, with the central key in hex. */
export type WireConfig = Omit<Config, 'central'> & { central: Omit<Config['central'], 'authKey'> & { authKey: string } };

export function objectUid(i: number): string {
  return `o${i}`;
}

/** Deterministic per-object key: the load processes derive it without talking to the parent. */
export function objectKey(i: number): Buffer {
  return createHash('sha256').update(`iots-bench-${i}`).digest().subarray(0, 16);
}

export interface BenchConfigOptions {
  readonly dir: string;
  readonly objects: number;
  readonly tls?: { cert: string; key: string };
  readonly maxInFlight?: number;
  /** Turn on the HTTP API (http-rr). */
  readonly http?: boolean;
  /** Turn on UDP telemetry (udp, udp-webhook): the bench group gets tokens, the per-token cap and receive buffer are raised. */
  readonly udp?: { readonly maxPerSecPerToken: number; readonly recvBufferBytes: number };
  /** central.webhooks.telemetry (udp-webhook). */
  readonly telemetryWebhook?: string;
  /** `cluster` (cluster-rr, redis-engine): this daemon is a node on that Redis. Absent: one node, in memory. */
  readonly cluster?: ClusterConfig;
}

/**
 * The bench's cluster settings: a node of the `bench:` cluster on `redis`, with the daemon's
 * defaults for the command timeout, heartbeat and lease (1 s, 3 s, 7 s).
 */
export function benchCluster(redis: string, nodeId: string, keyPrefix = 'bench:'): ClusterConfig {
  return { redis, nodeId, keyPrefix, commandTimeoutMs: 1000, heartbeatSec: 3, leaseSec: 7 };
}

/**
 * SO_RCVBUF asked for the udp scenarios: 128 MiB. A small datagram costs ~832 bytes of
 * buffer (skb truesize), so this holds about 3 s of 100 000/s while the daemon is descheduled
 * on a shared machine. The kernel caps it at net.core.rmem_max (the scenario logs the grant).
 */
export const BENCH_UDP_RECV_BUFFER_BYTES = 128 << 20;

/**
 * A complete daemon config for benchmarks, as a sysadmin admitting a fleet would set it
 * (bench/README.md, "Daemon configuration"): loopback, port 0, the shipped defaults for the
 * handshake timeout, ping interval, failed-authentication ban and log level (info: one line
 * per session, written by daemon-main to a file), and the accept-rate bucket raised above
 * what one daemon can admit so that it does not shape the figures. Writes the ACL file.
 */
export function benchConfig(o: BenchConfigOptions): WireConfig {
  const aclFile = join(o.dir, 'acl.json');
  const entries = Array.from({ length: o.objects }, (_, i) => ({ uid: objectUid(i), group: BENCH_GROUP, key: objectKey(i) }));
  writeFileSync(aclFile, formatAclJson(entries), { mode: 0o600 });
  let tls: Config['tcp']['tls'];
  if (o.tls) {
    writeFileSync(join(o.dir, 'cert.pem'), o.tls.cert);
    writeFileSync(join(o.dir, 'key.pem'), o.tls.key, { mode: 0o600 });
    tls = { cert: join(o.dir, 'cert.pem'), key: join(o.dir, 'key.pem') };
  }
  const inFlight = o.maxInFlight ?? 1024;
  return {
    baseDir: o.dir,
    keepSessionSec: 5,
    tcp: {
      host: '127.0.0.1', port: 0, tls, requestTimeoutSec: 30, handshakeTimeoutSec: 10, maxConnections: 150_000,
      maxTransmissionBytes: 1 << 20, pingIdleSec: 60,
    },
    udp: {
      enabled: o.udp !== undefined, host: '127.0.0.1', port: 0, maxDatagramBytes: 4096,
      maxDatagramsPerSecPerToken: o.udp?.maxPerSecPerToken ?? 100, recvBufferBytes: o.udp?.recvBufferBytes ?? 4 << 20,
    },
    http: {
      enabled: o.http === true, host: '127.0.0.1', port: 0, maxBodyBytes: 524288, maxWaitSec: 30,
      headersTimeoutSec: 10, requestTimeoutSec: 40, keepAliveTimeoutSec: 5, maxHeaderBytes: 16384, maxJsonDepth: 32, maxHeldRequests: 10000,
    },
    central: {
      authKey: BENCH_CENTRAL_KEY.toString('hex'),
      webhooks: {
        timeoutSec: 5, queueMaxItems: 10000, queueMaxBytes: 64 << 20, connections: 64, maxAttempts: 5, retryBaseSec: 0.5, retryMaxSec: 30,
        ...(o.telemetryWebhook ? { telemetry: o.telemetryWebhook } : {}),
      },
    },
    groups: { [BENCH_GROUP]: { telemetry: o.udp !== undefined, telemetryTokenExpMin: 0 } },
    acl: { file: aclFile },
    buffers: { maxPerSession: 1000, maxBytesPerSession: 1 << 20, maxTotalBytes: 1 << 28 },
    limits: {
      maxRequestsInFlightPerObject: inFlight, maxRequestsInFlightPerTarget: inFlight, writeBufferBytes: 1 << 22, drainTimeoutSec: 30,
      transmissionTimeoutSec: 30, authFailuresPerMinute: 15, authBanSec: 300, acceptPerSec: BENCH_ACCEPT_PER_SEC,
    },
    log: { level: 'info' },
    ...(o.cluster && { cluster: o.cluster }),
  };
}

export function fromWire(w: WireConfig): Config {
  return { ...w, central: { ...w.central, authKey: Buffer.from(w.central.authKey, 'hex') } };
}
