import t from 'tap';
import { ConfigError, ErrorCode, formatIssue, IotsError, listenError, PortInUseError } from '../src/errors.js';

t.test('codes are stable and unique', async (t) => {
  const codes = Object.values(ErrorCode);
  t.equal(new Set(codes).size, codes.length);
  for (const c of codes) t.match(c, /^ERR_IOTS_[A-Z_]+$/);
});

t.test('ConfigError carries every issue', async (t) => {
  const e = new ConfigError([{ path: 'tcp.port', line: 3, message: 'bad' }, { path: 'x', message: 'y' }], 'c.yaml');
  t.ok(e instanceof IotsError);
  t.equal(e.code, ErrorCode.CONFIG);
  t.equal(e.issues.length, 2);
  t.equal(formatIssue(e.issues[0]!, 'c.yaml'), 'c.yaml:3: tcp.port: bad');
  t.equal(formatIssue(e.issues[1]!, 'c.yaml'), 'c.yaml: x: y');
  t.equal(formatIssue({ path: '', line: 2, message: 'YAML' }), '2: YAML');
});

t.test('listen errors name the address', async (t) => {
  const busy = listenError(Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' }), '127.0.0.1', 50505);
  t.ok(busy instanceof PortInUseError);
  t.equal(busy.code, ErrorCode.PORT_IN_USE);
  t.match(busy.message, /50505/);
  t.match(busy.message, /127\.0\.0\.1/);
  t.match((busy as PortInUseError), { host: '127.0.0.1', port: 50505 });
  const other = listenError(Object.assign(new Error('nope'), { code: 'EACCES' }), '0.0.0.0', 80);
  t.equal(other.code, ErrorCode.LISTEN);
});
