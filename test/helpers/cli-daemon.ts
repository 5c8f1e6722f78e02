import type { AddressInfo } from 'node:net';
import { formatAclJson } from '../../src/registry/acl-file.js';
import { CENTRAL_KEY } from './config.js';
import type { Device } from './daemon.js';

/** The YAML of a plain-TCP daemon for CLI tests: port 0, UDP/HTTP off, the test central key, `devices` in Stations. */
export function cliFiles(devices: Device[], extra: string[] = []): Record<string, any> {
  return {
    'c.yaml': [
      'keepSessionSec: 60',
      'tcp: { port: 0, handshakeTimeoutSec: 60 }',
      'udp: { enabled: false }',
      'http: { enabled: false }',
      `central: { authKey: ${CENTRAL_KEY.toString('hex')} }`,
      'groups: { Devices: { telemetry: true, telemetryTokenExpMin: 5 }, Stations: {} }',
      'acl: { file: data/acl.json }',
      'limits: { acceptPerSec: 100000, authFailuresPerMinute: 100000 }',
      ...extra,
      '',
    ].join('\n'),
    data: { 'acl.json': formatAclJson(devices) },
  };
}

export function isListening(l: Record<string, unknown>): boolean {
  return typeof l.msg === 'string' && l.msg.startsWith('listening');
}

export function portOf(l: Record<string, unknown>): number {
  return (l.tcp as AddressInfo).port;
}
