import t from 'tap';
import { PassThrough } from 'node:stream';
import { createLogger, REDACTED } from '../../src/observability/logger.js';

const SECRET = '00112233445566778899AABBCCDDEEFF';

function sink() {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return {
    stream,
    text: () => Buffer.concat(chunks).toString('utf8'),
    lines: () => Buffer.concat(chunks).toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>),
  };
}

t.test('secrets are redacted wherever they sit', async (t) => {
  const out = sink();
  const log = createLogger({ level: 'trace', destination: out.stream });
  log.info({ authKey: SECRET }, 'top');
  log.info({ central: { authKey: SECRET, webhooks: { request: 'http://x' } } }, 'nested');
  log.info({ config: { central: { authKey: Buffer.from(SECRET, 'hex') } } }, 'config');
  log.debug({ session: { uid: 'dev1', mac: SECRET, key: SECRET } }, 'handshake');
  log.info({ req: { method: 'POST', headers: { authorization: `Bearer ${SECRET}`, host: 'h' } } }, 'http');
  log.info({ token: SECRET, grant: { token: SECRET } }, 'telemetry');
  log.info({ config: { cluster: { redis: 'redis://h', password: SECRET } }, cluster: { password: SECRET } }, 'cluster');
  const lines = out.lines();
  t.equal(lines.length, 7);
  t.notMatch(out.text(), SECRET);
  t.notMatch(out.text().toLowerCase(), SECRET.toLowerCase());
  t.equal(lines[0]!.authKey, REDACTED);
  t.equal(lines[1]!.central.authKey, REDACTED);
  t.equal(lines[1]!.central.webhooks.request, 'http://x', 'other fields are kept');
  t.equal(lines[2]!.config.central.authKey, REDACTED);
  t.same([lines[3]!.session.mac, lines[3]!.session.key, lines[3]!.session.uid], [REDACTED, REDACTED, 'dev1']);
  t.equal(lines[4]!.req.headers.authorization, REDACTED);
  t.equal(lines[4]!.req.headers.host, 'h');
  t.same([lines[5]!.token, lines[5]!.grant.token], [REDACTED, REDACTED]);
  t.same([lines[6]!.config.cluster.password, lines[6]!.cluster.password, lines[6]!.config.cluster.redis], [REDACTED, REDACTED, 'redis://h']);
});

t.test('level and base fields', async (t) => {
  const out = sink();
  const log = createLogger({ level: 'warn', destination: out.stream, base: { svc: 'iots' } });
  log.info('hidden');
  log.warn({ n: 1 }, 'shown');
  const lines = out.lines();
  t.equal(lines.length, 1);
  t.match(lines[0], { level: 40, msg: 'shown', n: 1, svc: 'iots' });
  const silent = sink();
  createLogger({ level: 'silent', destination: silent.stream }).fatal('nothing');
  t.equal(silent.text(), '');
});

t.test('errors are serialized with type and message', async (t) => {
  const out = sink();
  createLogger({ level: 'info', destination: out.stream }).error({ err: Object.assign(new Error('boom'), { code: 'X' }) }, 'failed');
  t.match(out.lines()[0], { err: { type: 'Error', message: 'boom', code: 'X' } });
});
