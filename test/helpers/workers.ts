import type { Test } from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ObjectClient, decodePayloadJson, json, type CloseEvent } from '../../src/client/index.js';
import { formatAclJson } from '../../src/registry/acl-file.js';
import type { CliChild } from './cli.js';
import { FAST_CLUSTER } from './cluster.js';
import { CENTRAL_KEY } from './config.js';
import type { Device } from './daemon.js';
import type { RedisServer } from './redis.js';

/** How long a `start --workers 2` may take to log workers-ready: two CLI starts one after the other, on a machine shared by a test suite. */
export const WORKERS_READY_MS = 60_000;

/** A node's config on `redis` (nodeId `w`: the workers are w-1, w-2...), every listener on 127.0.0.1:0. */
export function yaml(redis?: RedisServer): string {
  return [
    'keepSessionSec: 60',
    'tcp: { host: 127.0.0.1, port: 0, requestTimeoutSec: 5, handshakeTimeoutSec: 10 }',
    'udp: { enabled: true, host: 127.0.0.1, port: 0 }',
    'http: { enabled: true, host: 127.0.0.1, port: 0 }',
    `central: { authKey: ${CENTRAL_KEY.toString('hex')} }`,
    'groups: { Devices: { telemetry: true, telemetryTokenExpMin: 5 }, Stations: {} }',
    'acl: { file: data/acl.json }',
    'limits: { acceptPerSec: 100000, authFailuresPerMinute: 100000 }',
    'log: { level: info }',
    ...(redis ? [
      'cluster:',
      `  redis: ${JSON.stringify(redis.url)}`,
      '  nodeId: w',
      `  keyPrefix: ${JSON.stringify(FAST_CLUSTER.keyPrefix)}`,
      `  commandTimeoutMs: ${FAST_CLUSTER.commandTimeoutMs}`,
      `  heartbeatSec: ${FAST_CLUSTER.heartbeatSec}`,
      `  leaseSec: ${FAST_CLUSTER.leaseSec}`,
    ] : []),
    '',
  ].join('\n');
}

export function writeNodeDir(dir: string, devices: readonly Device[], redis?: RedisServer): void {
  mkdirSync(join(dir, 'data'), { recursive: true });
  writeFileSync(join(dir, 'data/acl.json'), formatAclJson(devices));
  writeFileSync(join(dir, 'c.yaml'), yaml(redis));
}

/** An object that answers every request with its own UID; its closes are recorded. */
export function answeringObject(t: Test, port: number, dev: Device, udpPort?: number): { client: ObjectClient; closed: Promise<CloseEvent>; token: Promise<unknown> } {
  const client = new ObjectClient({
    host: '127.0.0.1', port, uid: dev.uid, key: dev.key, reconnect: false, ...(udpPort && { udp: { host: '127.0.0.1', port: udpPort } }),
    handler: (req) => ({ payload: json({ uid: dev.uid, asked: decodePayloadJson(req.payload) }) }),
  });
  t.teardown(() => client.destroy());
  return { client, closed: new Promise((resolve) => client.once('close', resolve)), token: new Promise((resolve) => client.once('token', resolve)) };
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The primary's JSON lines, recorded as they come (waitForLog with a matcher that never matches). */
export function record(run: CliChild): Array<Record<string, unknown>> {
  const lines: Array<Record<string, unknown>> = [];
  run.waitForLog((l) => { lines.push(l); return false; }).catch(() => {});
  return lines;
}

