import type { Test } from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { CloseCode, ObjectClient, decodePayloadJson, json, type CloseEvent } from '../../src/client/index.js';
import { formatAclJson } from '../../src/registry/acl-file.js';
import { spawnCli, type CliRun } from './cli.js';
import { CENTRAL_KEY } from './config.js';
import { device, type Device } from './daemon.js';
import { call } from './http.js';

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

export function withHttpApi(files: Record<string, any>): Record<string, any> {
  return { ...files, 'c.yaml': (files['c.yaml'] as string).replace('http: { enabled: false }', 'http: { enabled: true, port: 0 }') };
}

/**
 * What a sysadmin checks first on a new install, through whatever runs `iotsocket` (`command`):
 * `start` in `dir` (cliFiles + the HTTP API), a device connects with the SDK over plain TCP, a
 * POST /request reaches it and comes back answered, SIGTERM closes its session 0x01 and exits 0.
 * Resolves with the finished run, for the caller's own checks of its output.
 */
export async function deviceRequestScenario(t: Test, opts: { dir: string; command?: readonly string[]; env?: Record<string, string> }): Promise<CliRun> {
  const dev = device('sea-dev-1');
  for (const [name, content] of Object.entries(withHttpApi(cliFiles([dev])))) {
    if (typeof content === 'string') writeFileSync(join(opts.dir, name), content);
    else for (const [f, text] of Object.entries(content as Record<string, string>)) {
      mkdirSync(join(opts.dir, name), { recursive: true });
      writeFileSync(join(opts.dir, name, f), text);
    }
  }
  const run = spawnCli(['start', '-c', 'c.yaml'], { cwd: opts.dir, command: opts.command, env: opts.env });
  t.teardown(() => void run.child.kill('SIGKILL'));
  const listening = await run.waitForLog(isListening);
  const httpPort = (listening.http as AddressInfo | undefined)?.port;
  if (httpPort === undefined) throw new Error(`the listening line names no HTTP address: ${JSON.stringify(listening)}`);

  const obj = new ObjectClient({
    host: '127.0.0.1', port: portOf(listening), uid: dev.uid, key: dev.key, reconnect: false,
    handler: (req) => ({ payload: json({ echo: decodePayloadJson(req.payload) }) }),
  });
  t.teardown(() => obj.destroy());
  const closed = new Promise<CloseEvent>((resolve) => obj.once('close', resolve));
  await obj.connect();

  const answer = await call(`http://127.0.0.1:${httpPort}`, '/request', { UID: dev.uid, Timeout: 5, Format: 'JSON', Payload: { get: 'state' } });
  t.equal(answer.status, 200, 'POST /request: 200');
  t.same(answer.json, { Code: 0, Format: 'JSON', Payload: { echo: { get: 'state' } } }, 'answered by the device, through the daemon');

  run.child.kill('SIGTERM');
  t.equal((await closed).code, CloseCode.MAINTENANCE, 'SIGTERM: the device is told maintenance (Close 0x01)');
  const exit = await run.exited;
  t.same([exit.code, exit.signal], [0, null], 'and the daemon exits 0');
  const lines = exit.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  t.ok(lines.some((l) => l.event === 'session-started' && l.uid === dev.uid), 'the session start is logged as JSON on stdout');
  return exit;
}
