import t from 'tap';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { CENTRAL_KEY, testConfig } from '../helpers/config.js';
import { startDaemon } from '../helpers/daemon.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { testCerts } from '../helpers/certs.js';
import { ExitCode } from '../../src/cli/io.js';

ensureBuilt();

const key = CENTRAL_KEY.toString('hex');
/** UID not in the ACL: the daemon answers Code 160 itself, so no device is needed to prove the call got through. */
const args = (url: string, ...more: string[]) => ['request', '--url', url, '--key', key, '--uid', 'nobody', '--payload', '1', ...more];

t.test('iotsocket request over real HTTPS: --ca FILE trusts the daemon certificate, --insecure accepts any, neither is refused with a hint', async (t) => {
  const pair = await testCerts();
  const config = testConfig(t);
  const cert = join(config.baseDir, 'http-cert.pem');
  const certKey = join(config.baseDir, 'http-key.pem');
  writeFileSync(cert, pair.cert);
  writeFileSync(certKey, pair.key, { mode: 0o600 });
  const d = await startDaemon(t, { ...config, http: { ...config.http, enabled: true, tls: { cert, key: certKey } } });
  const url = `https://127.0.0.1:${d.daemon.addresses!.http!.port}`;
  const cwd = config.baseDir;

  const withCa = await runCli(args(url, '--ca', cert), { cwd });
  t.same([withCa.code, JSON.parse(withCa.stdout || '{}').Code], [ExitCode.NOT_OK_CODE, 160], `--ca: HTTPS call answered (Code 160 → exit ${ExitCode.NOT_OK_CODE}) ${withCa.stderr}`);
  const insecure = await runCli(args(url, '--insecure'), { cwd });
  t.same([insecure.code, JSON.parse(insecure.stdout || '{}').Code], [ExitCode.NOT_OK_CODE, 160], `--insecure: HTTPS call answered ${insecure.stderr}`);
  const untrusted = await runCli(args(url), { cwd });
  t.equal(untrusted.code, ExitCode.RUNTIME, 'an untrusted certificate is a network failure (exit 2)');
  t.match(untrusted.stderr, /certificate/i, 'says it is the certificate');
  t.match(untrusted.stderr, /--ca FILE or --insecure/, 'and how to trust it');
  t.notMatch(untrusted.stderr, /\n\s+at /, 'no stack trace');
  const missingCa = await runCli(args(url, '--ca', join(cwd, 'nope.pem')), { cwd });
  t.equal(missingCa.code, ExitCode.USAGE, 'an unreadable --ca file is a usage error');
  t.match(missingCa.stderr, /--ca: cannot read .*nope\.pem/);
});

t.test('iotsocket request: a URL without a scheme is a clear error, not a stack trace', async (t) => {
  const cwd = testConfig(t).baseDir;
  for (const url of ['127.0.0.1:8080', 'localhost:8080', 'ftp://127.0.0.1:8080']) {
    const r = await runCli(args(url), { cwd });
    t.equal(r.code, ExitCode.USAGE, `${url}: usage error`);
    t.match(r.stderr, /--url.*http:\/\/ or https:\/\//, `${url}: names the option and the schemes`);
    t.notMatch(r.stderr, /\n\s+at /, `${url}: no stack trace`);
  }
});

t.test('iotsocket request: ECONNREFUSED names the address and asks whether the daemon is running', async (t) => {
  // A port that was just free: listen on 0, read it, close.
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const r = await runCli(args(`http://127.0.0.1:${port}`), { cwd: testConfig(t).baseDir });
  t.equal(r.code, ExitCode.RUNTIME);
  t.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${port}`), 'names the address');
  t.match(r.stderr, /is the daemon running\?/);
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
});
