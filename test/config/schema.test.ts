import t from 'tap';
import { parseConfig } from '../../src/config/load.js';
import { compileConfigValidator } from '../../src/config/compile-validator.js';

const KEY = '00112233445566778899AABBCCDDEEFF';

t.test('a minimal config gets every default (pinned)', async (t) => {
  const res = parseConfig(`central: { authKey: ${KEY} }\n`, { baseDir: '/srv/iots' });
  t.same(res.errors, []);
  t.same(res.warnings, []);
  t.strictSame(res.config, {
    baseDir: '/srv/iots',
    keepSessionSec: 60,
    tcp: {
      host: '127.0.0.1',
      port: 50505,
      requestTimeoutSec: 10,
      handshakeTimeoutSec: 10,
      maxConnections: 100000,
      maxTransmissionBytes: 1048576,
      pingIdleSec: 60,
    },
    udp: { enabled: true, host: '127.0.0.1', port: 50505, maxDatagramBytes: 4096, maxDatagramsPerSecPerToken: 100, recvBufferBytes: 4194304 },
    http: {
      enabled: true, host: '127.0.0.1', port: 8080, maxBodyBytes: 524288, maxWaitSec: 30,
      headersTimeoutSec: 10, requestTimeoutSec: 40, keepAliveTimeoutSec: 5, maxHeaderBytes: 16384, maxJsonDepth: 32, maxHeldRequests: 10000,
    },
    central: {
      webhooks: { timeoutSec: 5, queueMaxItems: 10000, queueMaxBytes: 67108864, connections: 64, maxAttempts: 5, retryBaseSec: 0.5, retryMaxSec: 30 },
      authKey: Buffer.from(KEY, 'hex'),
    },
    groups: {},
    acl: { file: '/srv/iots/data/acl.json' },
    buffers: { maxPerSession: 1000, maxBytesPerSession: 1048576, maxTotalBytes: 268435456 },
    limits: {
      maxRequestsInFlightPerObject: 32, maxRequestsInFlightPerTarget: 256, writeBufferBytes: 1048576, drainTimeoutSec: 15,
      transmissionTimeoutSec: 30, authFailuresPerMinute: 15, authBanSec: 300, acceptPerSec: 1000,
    },
    log: { level: 'info' },
  });
});

t.test('group entries get their defaults', async (t) => {
  const res = parseConfig(`central: { authKey: ${KEY} }\ngroups: { Stations: {}, Devices: { telemetry: true, telemetryTokenExpMin: 60 } }\n`, { baseDir: '/x' });
  t.strictSame(res.config?.groups, {
    Stations: { telemetry: false, telemetryTokenExpMin: 0 },
    Devices: { telemetry: true, telemetryTokenExpMin: 60 },
  });
});

t.test('the result is deep-frozen and the auth key is 16 bytes', async (t) => {
  const { config } = parseConfig(`central: { authKey: ${KEY} }\n`, { baseDir: '/x' });
  t.ok(config);
  t.ok(Object.isFrozen(config) && Object.isFrozen(config!.tcp) && Object.isFrozen(config!.central.webhooks));
  t.equal(config!.central.authKey.length, 16);
  t.throws(() => {
    (config!.tcp as { port: number }).port = 1;
  }, TypeError);
});

t.test('each validator is independent (no shared state) and fills defaults in place', async (t) => {
  const a = compileConfigValidator();
  const b = compileConfigValidator();
  const data: Record<string, unknown> = { central: { authKey: KEY } };
  t.ok(a(data));
  t.equal((data.tcp as { port: number }).port, 50505);
  t.notOk(b({ central: {}, nope: 1 }));
  t.ok(a({ central: { authKey: KEY } }), 'a is unaffected by b');
});

t.test('range rules', async (t) => {
  const bad: Array<[string, string]> = [
    ['tcp: { port: 65536 }', 'tcp.port'],
    ['tcp: { port: -1 }', 'tcp.port'],
    ['udp: { port: 1.5 }', 'udp.port'],
    ['tcp: { maxConnections: 0 }', 'tcp.maxConnections'],
    ['tcp: { requestTimeoutSec: 0 }', 'tcp.requestTimeoutSec'],
    ['http: { maxBodyBytes: 0 }', 'http.maxBodyBytes'],
    ['buffers: { maxTotalBytes: -5 }', 'buffers.maxTotalBytes'],
    ['udp: { maxDatagramBytes: 10 }', 'udp.maxDatagramBytes'],
    ['udp: { recvBufferBytes: 0 }', 'udp.recvBufferBytes'],
    ['groups: { ABCDEFGHIJKLMNOPQ: {} }', 'groups.ABCDEFGHIJKLMNOPQ'],
    ['groups: { "ééééééééé": {} }', 'groups.ééééééééé'],
    ['central: { authKey: 00112233445566778899AABBCCDDEEF }', 'central.authKey'],
    ['central: { authKey: 00112233445566778899AABBCCDDEEFG }', 'central.authKey'],
    [`central: { authKey: ${KEY}, webhooks: { request: "ftp://x/y" } }`, 'central.webhooks.request'],
    [`central: { authKey: ${KEY}, webhooks: { telemetry: "not a url" } }`, 'central.webhooks.telemetry'],
    ['log: { level: loud }', 'log.level'],
    ['tcp: { redirect: { host: x } }', 'tcp.redirect.port'],
  ];
  for (const [yaml, path] of bad) {
    const text = yaml.startsWith('central') ? yaml : `central: { authKey: ${KEY} }\n${yaml}`;
    const res = parseConfig(text, { baseDir: '/x' });
    t.equal(res.config, undefined, yaml);
    t.ok(res.errors.some((e) => e.path === path && typeof e.line === 'number'), `${yaml} -> ${path}`);
  }
  const ok = parseConfig(`central: { authKey: ${KEY} }\ngroups: { "ABCDEFGHIJKLMNOP": {}, "éééééééé": {} }\ntcp: { port: 0 }\n`, { baseDir: '/x' });
  t.same(ok.errors, [], '16 bytes of UTF-8 and port 0 are fine');
});
