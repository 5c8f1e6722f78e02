/**
 * JSON Schema of the YAML configuration file. Defaults are filled in by ajv (`useDefaults`;
 * the validator is compiled at build time: compile-validator.ts);
 * every object is closed (`additionalProperties: false`) so a misspelt key is an error.
 * Rules a schema cannot say well (exactly one of authKey/authKeyFile, file existence)
 * are checked in load.ts.
 */

const host = { type: 'string', minLength: 1, maxLength: 255 } as const;
const port = { type: 'integer', minimum: 0, maximum: 65535 } as const;
const positiveInt = { type: 'integer', minimum: 1 } as const;
const positiveSec = { type: 'number', exclusiveMinimum: 0 } as const;
const filePath = { type: 'string', minLength: 1 } as const;
const hexKey = { type: 'string', pattern: '^[0-9A-Fa-f]{32}$' } as const;
const httpUrl = { type: 'string', httpUrl: true } as const;

const tls = {
  type: 'object',
  additionalProperties: false,
  required: ['cert', 'key'],
  properties: { cert: filePath, key: filePath, generateDevCert: { type: 'boolean', default: false } },
} as const;

const group = {
  type: 'object',
  additionalProperties: false,
  properties: {
    telemetry: { type: 'boolean', default: false },
    telemetryTokenExpMin: { type: 'number', minimum: 0, default: 0 },
  },
} as const;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** A closed section filled with its defaults when absent: a misspelt key in it is an error. */
function section<P extends Record<string, object>>(properties: P) {
  return { type: 'object', additionalProperties: false, default: {}, properties } as const;
}

/** Where a listener binds: loopback unless the file says otherwise. */
function listener(defaultPort: number) {
  return { host: { ...host, default: '127.0.0.1' }, port: { ...port, default: defaultPort } } as const;
}

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['central'],
  properties: {
    keepSessionSec: { type: 'number', minimum: 0, default: 60 },
    tcp: section({
      ...listener(50505),
      tls,
      requestTimeoutSec: { ...positiveSec, default: 10 },
      handshakeTimeoutSec: { ...positiveSec, default: 10 },
      maxConnections: { ...positiveInt, default: 100000 },
      maxTransmissionBytes: { ...positiveInt, default: 1048576 },
      pingIdleSec: { type: 'number', minimum: 0, default: 60 },
      redirect: {
        type: 'object',
        additionalProperties: false,
        required: ['host', 'port'],
        properties: { host, port: { ...port, minimum: 1 } },
      },
    }),
    udp: section({
      enabled: { type: 'boolean', default: true },
      ...listener(50505),
      // PROTOCOL §7: a datagram is at least token (8) + payload header (3).
      maxDatagramBytes: { type: 'integer', minimum: 11, maximum: 65507, default: 4096 },
      maxDatagramsPerSecPerToken: { ...positiveInt, default: 100 },
      // SO_RCVBUF asked for; the kernel caps it at net.core.rmem_max.
      recvBufferBytes: { ...positiveInt, default: 4194304 },
    }),
    http: section({
      enabled: { type: 'boolean', default: true },
      ...listener(8080),
      tls,
      maxBodyBytes: { ...positiveInt, default: 524288 },
      maxWaitSec: { ...positiveSec, default: 30 },
      headersTimeoutSec: { ...positiveSec, default: 10 },
      // No default here: load.ts derives it from maxWaitSec when absent, and checks it when set.
      requestTimeoutSec: positiveSec,
      keepAliveTimeoutSec: { ...positiveSec, default: 5 },
      maxHeaderBytes: { type: 'integer', minimum: 1024, maximum: 1048576, default: 16384 },
      // 2 at least: an /acl body is an array of objects.
      maxJsonDepth: { type: 'integer', minimum: 2, maximum: 1000, default: 32 },
      maxHeldRequests: { ...positiveInt, default: 10000 },
    }),
    // Absent, or without a port: no admin listener (health, metrics and admin share the HTTP one), so no default.
    admin: {
      type: 'object',
      additionalProperties: false,
      properties: { host: { ...host, default: '127.0.0.1' }, port, tls, console: { type: 'boolean', default: false } },
    },
    central: {
      type: 'object',
      additionalProperties: false,
      properties: {
        authKey: hexKey,
        authKeyFile: filePath,
        webhooks: section({
          request: httpUrl,
          telemetry: httpUrl,
          presence: httpUrl,
          timeoutSec: { ...positiveSec, default: 5 },
          ca: filePath,
          // The telemetry and presence queues (each its own): what is held while the central is slow or down.
          queueMaxItems: { ...positiveInt, default: 10000 },
          queueMaxBytes: { ...positiveInt, default: 67108864 },
          connections: { ...positiveInt, default: 64 },
          maxAttempts: { ...positiveInt, default: 5 },
          retryBaseSec: { ...positiveSec, default: 0.5 },
          retryMaxSec: { ...positiveSec, default: 30 },
          // Standard Webhooks `whsec_<base64>`; its form is checked in load.ts (the message names the rule).
          secret: { type: 'string', minLength: 1 },
        }),
      },
    },
    groups: {
      type: 'object',
      default: {},
      // PROTOCOL §2: a group name is at most 16 bytes of UTF-8, and not empty.
      propertyNames: { type: 'string', minLength: 1, maxUtf8Bytes: 16 },
      additionalProperties: group,
    },
    acl: section({ file: { ...filePath, default: 'data/acl.json' } }),
    buffers: section({
      maxPerSession: { ...positiveInt, default: 1000 },
      maxBytesPerSession: { ...positiveInt, default: 1048576 },
      maxTotalBytes: { ...positiveInt, default: 268435456 },
    }),
    limits: section({
      maxRequestsInFlightPerObject: { ...positiveInt, default: 32 },
      maxRequestsInFlightPerTarget: { ...positiveInt, default: 256 },
      writeBufferBytes: { ...positiveInt, default: 1048576 },
      drainTimeoutSec: { ...positiveSec, default: 15 },
      transmissionTimeoutSec: { ...positiveSec, default: 30 },
      authFailuresPerMinute: { ...positiveInt, default: 15 },
      authBanSec: { type: 'number', minimum: 0, default: 300 },
      acceptPerSec: { ...positiveInt, default: 1000 },
    }),
    // No default: absent means one node, in memory, and no Redis. nodeId's default (hostname-pid)
    // and the rules across keys (URL scheme, leaseSec > heartbeatSec, the prefix) are in cluster.ts.
    cluster: {
      type: 'object',
      additionalProperties: false,
      required: ['redis'],
      properties: {
        redis: { type: 'string', minLength: 1 },
        nodeId: { type: 'string' },
        keyPrefix: { type: 'string', maxLength: 64, default: 'iotsocket:' },
        commandTimeoutMs: { type: 'integer', minimum: 50, default: 1000 },
        heartbeatSec: { ...positiveSec, default: 3 },
        leaseSec: { ...positiveSec, default: 7 },
        passwordFile: filePath,
        tls: { type: 'object', additionalProperties: false, properties: { ca: filePath } },
        // How nodes hand each other messages: direct TCP links (default), or streams in Redis (only Redis between nodes).
        inbox: { enum: ['direct', 'redis'], default: 'direct' },
        link: section({ host: { ...host, default: '127.0.0.1' }, port: { ...port, default: 0 }, advertise: host }),
        // Where clients reach this node (the redirect rule of PROTOCOL §3 names it): a wildcard bind is not an address.
        advertise: {
          type: 'object',
          additionalProperties: false,
          required: ['host', 'port'],
          properties: { host: { ...host, maxUtf8Bytes: 255 }, port: { ...port, minimum: 1 } },
        },
        // Sessions per second a drain closes (EMQX evacuates at 500 connections/s).
        drainRate: { type: 'number', exclusiveMinimum: 0, default: 500 },
        rebalance: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            enabled: { type: 'boolean', default: false },
            // Over threshold × the cluster's mean: a threshold of 1 or less would send clients back and forth.
            threshold: { type: 'number', exclusiveMinimum: 1, default: 1.1 },
            floor: { type: 'integer', minimum: 0, default: 100 },
          },
        },
      },
    },
    // No default: absent means "pretty when stdout is a terminal", decided by `iotsocket start`.
    log: section({ level: { enum: LOG_LEVELS, default: 'info' }, pretty: { type: 'boolean' } }),
  },
} as const;

export interface RawTls {
  cert: string;
  key: string;
  generateDevCert: boolean;
}

/** The file's shape after validation and defaults, before paths are resolved and keys read. */
export interface RawConfig {
  keepSessionSec: number;
  tcp: {
    host: string;
    port: number;
    tls?: RawTls;
    requestTimeoutSec: number;
    handshakeTimeoutSec: number;
    maxConnections: number;
    maxTransmissionBytes: number;
    pingIdleSec: number;
    redirect?: { host: string; port: number };
  };
  udp: { enabled: boolean; host: string; port: number; maxDatagramBytes: number; maxDatagramsPerSecPerToken: number; recvBufferBytes: number };
  http: {
    enabled: boolean;
    host: string;
    port: number;
    tls?: RawTls;
    maxBodyBytes: number;
    maxWaitSec: number;
    headersTimeoutSec: number;
    requestTimeoutSec?: number;
    keepAliveTimeoutSec: number;
    maxHeaderBytes: number;
    maxJsonDepth: number;
    maxHeldRequests: number;
  };
  admin?: { host: string; port?: number; tls?: RawTls; console: boolean };
  central: {
    authKey?: string;
    authKeyFile?: string;
    webhooks: {
      request?: string; telemetry?: string; presence?: string; timeoutSec: number; ca?: string; secret?: string;
      queueMaxItems: number; queueMaxBytes: number; connections: number; maxAttempts: number; retryBaseSec: number; retryMaxSec: number;
    };
  };
  groups: Record<string, { telemetry: boolean; telemetryTokenExpMin: number }>;
  acl: { file: string };
  buffers: { maxPerSession: number; maxBytesPerSession: number; maxTotalBytes: number };
  limits: {
    maxRequestsInFlightPerObject: number;
    maxRequestsInFlightPerTarget: number;
    writeBufferBytes: number;
    drainTimeoutSec: number;
    transmissionTimeoutSec: number;
    authFailuresPerMinute: number;
    authBanSec: number;
    acceptPerSec: number;
  };
  cluster?: RawCluster;
  log: { level: (typeof LOG_LEVELS)[number]; pretty?: boolean };
}

export interface RawCluster {
  redis: string;
  nodeId?: string;
  keyPrefix: string;
  commandTimeoutMs: number;
  heartbeatSec: number;
  leaseSec: number;
  passwordFile?: string;
  tls?: { ca?: string };
  inbox: 'direct' | 'redis';
  link: { host: string; port: number; advertise?: string };
  advertise?: { host: string; port: number };
  drainRate: number;
  rebalance: { enabled: boolean; threshold: number; floor: number };
}
