import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ROOT } from '../helpers/cli.js';

const UNIT = 'docs/systemd/iotsocket@.service';
const text = readFileSync(join(ROOT, UNIT), 'utf8');

/** Section → key → values (a key may repeat), comments and blank lines dropped. */
function parseUnit(unit: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of unit.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) { sections.set(section[1]!, (current = new Map())); continue; }
    const eq = line.indexOf('=');
    if (!current || eq < 1) throw new Error(`${UNIT}: not a key=value line inside a section: ${line}`);
    const k = line.slice(0, eq);
    current.set(k, [...(current.get(k) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

t.test(`${UNIT}: one instance per node, its config /etc/iotsocket/%i.yaml, restarted on failure, descriptors, hardened`, async (t) => {
  const u = parseUnit(text);
  t.same([...u.keys()], ['Unit', 'Service', 'Install']);
  const s = u.get('Service')!;
  const one = (k: string) => s.get(k)?.[0];
  t.equal(one('ExecStart'), '/opt/iotsocket/bin/iotsocket.js start -c /etc/iotsocket/%i.yaml', 'the instance name picks the config');
  t.match(u.get('Unit')!.get('Description')![0], /%i/);
  t.equal(one('Restart'), 'on-failure');
  t.equal(one('RestartPreventExitStatus'), '1', 'a configuration error is not restarted (README "Exit codes")');
  t.ok(Number(one('LimitNOFILE')) >= 200_000, 'one descriptor per session');
  t.equal(one('KillSignal'), 'SIGTERM');
  t.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID');
  t.equal(one('User'), 'iotsocket');
  t.equal(one('WorkingDirectory'), '/var/lib/iotsocket', 'shared by the instances: the central key and certificate are the fleet\'s');
  t.equal(one('StateDirectory'), 'iotsocket', 'created for the user, and writable under ProtectSystem=strict');
  t.same(s.get('EnvironmentFile'), ['-/etc/iotsocket/environment', '-/etc/iotsocket/%i.env']);
  for (const [k, v] of Object.entries({
    NoNewPrivileges: 'true', ProtectSystem: 'strict', ProtectHome: 'true', PrivateTmp: 'true', PrivateDevices: 'true',
    ProtectKernelTunables: 'true', ProtectKernelModules: 'true', ProtectControlGroups: 'true', RestrictNamespaces: 'true',
    RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX', CapabilityBoundingSet: '', SystemCallArchitectures: 'native',
    MemoryDenyWriteExecute: 'false',
  })) t.equal(one(k), v, `${k}=${v}`);
  t.equal(u.get('Install')!.get('WantedBy')![0], 'multi-user.target');
});

t.test('systemd-analyze verify accepts an instance of the unit, with no warning', async (t) => {
  const found = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  if (found.error) throw new Error('systemd-analyze is not installed (Debian: apt-get install systemd): this test needs it');
  const dir = t.testdir({});
  // verify checks that ExecStart's program exists: the repository's bin stands in for /opt/iotsocket's.
  writeFileSync(join(dir, 'iotsocket@.service'), text.replaceAll('/opt/iotsocket/bin/iotsocket.js', BIN));
  const run = spawnSync('systemd-analyze', ['verify', join(dir, 'iotsocket@node1.service')], { encoding: 'utf8' });
  t.equal(run.status, 0, `exit 0 (stderr: ${run.stderr})`);
  t.equal(`${run.stdout}${run.stderr}`, '', 'no complaint (an unknown key is only a warning, so output must be empty)');
  // The check bites: a misspelt key is reported.
  writeFileSync(join(dir, 'iotsocket@.service'), text.replaceAll('/opt/iotsocket/bin/iotsocket.js', BIN).replace('LimitNOFILE=', 'LimitNOFILES='));
  const bad = spawnSync('systemd-analyze', ['verify', join(dir, 'iotsocket@node1.service')], { encoding: 'utf8' });
  t.match(bad.stderr, /Unknown key 'LimitNOFILES'/);
});
