import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';

const ROOT = join(import.meta.dirname, '../..');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');

/** The Dockerfile's instructions, line continuations joined, comments dropped. */
function instructions(text: string): string[] {
  return text.replace(/\\\n/g, ' ').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
}

/** `ENV A=1 B=2` lines as an environment. */
function dockerEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of instructions(text).filter((l) => l.startsWith('ENV '))) {
    for (const pair of line.slice(4).trim().split(/\s+/)) {
      const [k, v] = pair.split('=');
      if (k && v !== undefined) env[k] = v;
    }
  }
  return env;
}

// CI runs no Docker engine (and reaches no image registry): load the image's config the way
// the container does (the shipped file + the image's ENV) and check what each port serves.
t.test('docs/Dockerfile: health, /metrics and the admin API are on their own listener, not the public API port', async (t) => {
  const dockerfile = read('docs/Dockerfile');
  const env = dockerEnv(dockerfile);
  t.ok(instructions(dockerfile).includes('COPY config/concentrator.yaml /etc/iotsocket/concentrator.yaml'), 'the image config is the shipped file');
  const res = parseConfig(read('config/concentrator.yaml'), { file: 'concentrator.yaml', baseDir: t.testdir({}), env, mode: 'check' });
  t.same(res.errors, [], 'check-config passes on the image config');
  // In check mode the central key may still be to generate; the draft is what matters here.
  const c = parseConfig(read('config/concentrator.yaml'), { baseDir: t.testdir({}), env: { ...env, IOTSOCKET_CENTRAL__AUTHKEY: '00112233445566778899AABBCCDDEEFF' }, mode: 'check' }).config!;
  t.equal(c.http.host, '0.0.0.0', 'the API is public inside the container');
  t.ok(c.admin, 'an admin listener is configured, so /healthz, /metrics, /sessions leave the HTTP listener');
  t.not(c.admin!.port, c.http.port, 'on another port');
  const exposed = instructions(dockerfile).find((l) => l.startsWith('EXPOSE '))!;
  t.match(exposed, `${c.admin!.port}/tcp`);
  t.match(instructions(dockerfile).find((l) => l.startsWith('HEALTHCHECK '))!, `127.0.0.1:${c.admin!.port}/healthz`, 'the health check asks the admin listener');
  t.match(dockerfile, `-p 127.0.0.1:${c.admin!.port}:${c.admin!.port}`, 'published on the host loopback only');
  t.match(dockerfile, /docker exec iotsocket iotsocket acl add -c \/etc\/iotsocket\/concentrator\.yaml/, 'how to run the ACL tools');
});

t.test('docs/iotsocket.service: the install recipe builds before pruning dev dependencies; no hard-coded node', async (t) => {
  const unit = read('docs/iotsocket.service');
  t.notMatch(unit, /npm ci --omit=dev && npm run build/, 'TypeScript is a dev dependency: that recipe cannot build');
  t.match(unit, /npm ci && npm run build && npm prune --omit=dev/);
  const exec = /^ExecStart=(\S+) (.*)$/m.exec(unit);
  t.ok(exec, 'an ExecStart line');
  t.equal(exec![1], '/opt/iotsocket/bin/iotsocket.js', 'the bin itself (its #!/usr/bin/env node picks node from PATH)');
  t.match(read('bin/iotsocket.js'), /^#!\/usr\/bin\/env node\n/);
  t.notMatch(unit, /^ExecStart=\/usr\/bin\/node/m);
  const pkg = JSON.parse(read('package.json')) as { bin: Record<string, string>; devDependencies: Record<string, string> };
  t.equal(pkg.bin.iotsocket, 'bin/iotsocket.js');
  t.ok(pkg.devDependencies.typescript, 'why the build must come before the prune');
});
