/** The validated, frozen configuration. Produced only by config/load.ts; inner modules trust it. */

export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
}

export interface GroupConfig {
  readonly telemetry: boolean;
  /** 0: tokens never expire. */
  readonly telemetryTokenExpMin: number;
}

export interface Config {
  /** Directory the relative paths below were resolved against (the CLI passes process.cwd()); every path here is absolute. */
  readonly baseDir: string;
  readonly keepSessionSec: number;
  readonly tcp: {
    readonly host: string;
    readonly port: number;
    readonly tls?: TlsFiles;
    readonly requestTimeoutSec: number;
    readonly handshakeTimeoutSec: number;
    readonly maxConnections: number;
    readonly maxTransmissionBytes: number;
    /** Seconds of silence after which the concentrator pings a session; 0 disables. */
    readonly pingIdleSec: number;
    /** Where refused-for-load clients are sent (PROTOCOL §3 redirect rule). */
    readonly redirect?: { readonly host: string; readonly port: number };
  };
  readonly udp: {
    readonly enabled: boolean;
    readonly host: string;
    readonly port: number;
    readonly maxDatagramBytes: number;
    /** Datagrams per second accepted per telemetry token; the excess is dropped. Default 100. */
    readonly maxDatagramsPerSecPerToken: number;
    /** Kernel receive buffer asked for the UDP socket (SO_RCVBUF), so bursts survive a busy event loop; capped by net.core.rmem_max. Default 4 MiB. */
    readonly recvBufferBytes: number;
  };
  readonly http: {
    readonly enabled: boolean;
    readonly host: string;
    readonly port: number;
    readonly tls?: TlsFiles;
    readonly maxBodyBytes: number;
    readonly maxWaitSec: number;
    /** Time for a request's headers to arrive; then 408. Shared by the admin listener. */
    readonly headersTimeoutSec: number;
    /** Time for a whole request (headers and body) to arrive; then 408. Always above maxWaitSec. */
    readonly requestTimeoutSec: number;
    /** An idle keep-alive connection is closed after this long. */
    readonly keepAliveTimeoutSec: number;
    /** Request line and headers together; beyond, 431. */
    readonly maxHeaderBytes: number;
    /** Nesting of arrays and objects in a body; deeper, 400. */
    readonly maxJsonDepth: number;
    /** /request calls held open at once; beyond, 503. */
    readonly maxHeldRequests: number;
  };
  /** When set, health, metrics and the admin API move here, off the public HTTP listener. */
  readonly admin?: { readonly host: string; readonly port: number; readonly tls?: TlsFiles };
  /**
   * `admin.console`: the web console at /console, on the admin listener, or on the HTTP
   * listener with the other admin routes when there is no admin listener. Off when absent.
   */
  readonly adminConsole?: boolean;
  readonly central: {
    /** 16 bytes; from `authKey` (hex) or `authKeyFile`. */
    readonly authKey: Buffer;
    readonly webhooks: {
      readonly request?: string;
      readonly telemetry?: string;
      /** Object session changes: {"UID", "Event", "Reason", "At"}. */
      readonly presence?: string;
      readonly timeoutSec: number;
      readonly ca?: string;
      /** Per queue (telemetry, presence): items and JSON bytes held at once; beyond, dropped and counted (queue-full). */
      readonly queueMaxItems: number;
      readonly queueMaxBytes: number;
      /** Sockets per hook and origin; a queue keeps up to 4 POSTs pipelined on each. */
      readonly connections: number;
      /** Attempts per queued item, the first included; retries back off from retryBaseSec up to retryMaxSec (jittered). */
      readonly maxAttempts: number;
      readonly retryBaseSec: number;
      readonly retryMaxSec: number;
      /** Standard Webhooks signing key: the bytes of `whsec_<base64>`. When set, every webhook is signed. */
      readonly secret?: Buffer;
    };
  };
  readonly groups: Readonly<Record<string, GroupConfig>>;
  readonly acl: { readonly file: string };
  readonly buffers: {
    readonly maxPerSession: number;
    readonly maxBytesPerSession: number;
    readonly maxTotalBytes: number;
  };
  /** Protections against hostile or broken peers (README "Limits"). */
  readonly limits: {
    /** Requests an object may have in flight toward the central; the next is answered 0x01. */
    readonly maxRequestsInFlightPerObject: number;
    /** Requests the central side may have in flight toward one object; the next is answered 0x01. */
    readonly maxRequestsInFlightPerTarget: number;
    /** Bytes waiting to be written to one peer before we stop writing and start the drain deadline. */
    readonly writeBufferBytes: number;
    /** A peer that does not read for this long while we have data for it is disconnected (session kept). */
    readonly drainTimeoutSec: number;
    /** Time allowed to complete a transmission once its first byte arrived; then Close 0x00. */
    readonly transmissionTimeoutSec: number;
    /** Failed authentications per source IP per minute before that IP is refused. */
    readonly authFailuresPerMinute: number;
    /** How long an IP over that figure is refused (OK=0, before any HMAC work). */
    readonly authBanSec: number;
    /** New TCP connections accepted per second; beyond, OK=0 (or the redirect rule). */
    readonly acceptPerSec: number;
  };
  /**
   * Several nodes serving one fleet on one Redis (README "Running several nodes"). Absent: one
   * node, in memory, and no Redis is needed or contacted.
   */
  readonly cluster?: ClusterConfig;
  readonly log: {
    readonly level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
    /** `iotsocket start`: human-readable lines (pino-pretty) instead of JSON; absent: pretty when stdout is a terminal. An embedding program passes its own logger. */
    readonly pretty?: boolean;
  };
}

export interface ClusterConfig {
  /** redis:// or rediss:// URL (user, password and db as in the URL). Logged with its password hidden. */
  readonly redis: string;
  /** Unique in the cluster; a node restarted with the same id takes up what it held. Default: hostname-pid. */
  readonly nodeId: string;
  /** Put before every key, so several clusters can share one Redis. Default 'iotsocket:'; never holds '{'. */
  readonly keyPrefix: string;
  /** A Redis command unanswered for this long fails (a hung Redis must not hang a request). Default 1000. */
  readonly commandTimeoutMs: number;
  /** How often a node renews its lease and publishes its load. Default 3. */
  readonly heartbeatSec: number;
  /** A node whose lease was not renewed for this long is dead: others reap it. Default 7; above heartbeatSec. */
  readonly leaseSec: number;
  /** From `passwordFile` (its content, trimmed): replaces the URL's password, so the config holds no secret. */
  readonly password?: string;
  /** `tls.ca`: a CA file (absolute path) to verify a rediss:// server with, instead of the system's. */
  readonly tls?: { readonly ca?: string };
  /** How nodes hand each other messages (absent: 'direct'): 'direct' TCP links between nodes, or 'redis' streams (nodes need to reach only Redis). */
  readonly inbox?: 'direct' | 'redis';
  /** Where this node listens for other nodes' links ('direct'; absent: 127.0.0.1, any free port); `advertise` is the host others dial. */
  readonly link?: { readonly host: string; readonly port: number; readonly advertise?: string };
  /** Where clients reach this node, sent in redirects by other nodes. Default: tcp.host and the bound port (none for a wildcard host: never a redirect target). */
  readonly advertise?: { readonly host: string; readonly port: number };
  /** Sessions per second a drain closes (Close 0x01, kept for their devices to resume elsewhere). Default 500 (the loaded config always has it; an embedding program may leave it out). */
  readonly drainRate?: number;
  /** Redirect new clients to the least loaded node while this node's sessions exceed `threshold` × the cluster's mean and `floor`. */
  readonly rebalance?: { readonly enabled: boolean; readonly threshold: number; readonly floor: number };
}
