import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { checkCluster, finishCluster } from './cluster.js';
import { applyEnvOverrides } from './env-overrides.js';
import { fileProblem, readableByOthers } from './file-problem.js';
import { schemaIssues } from './ajv-issues.js';
import { planFirstStart, type FirstStartStep } from './bootstrap.js';
import { configSchema, type RawConfig, type RawTls } from './schema.js';
import { validateConfig } from './validate-config.js';
import { readYamlSource } from './yaml-source.js';
import { decodeWebhookSecret } from './webhook-secret.js';
import type { Config, TlsFiles } from './types.js';

export type { ConfigIssue } from '../errors.js';

export interface ParseOptions {
  /** Shown in messages only. */
  readonly file?: string;
  /** Relative paths in the file (TLS files, acl.file, authKeyFile, webhooks.ca, cluster.passwordFile, cluster.tls.ca) resolve against it; the CLI passes process.cwd(). */
  readonly baseDir: string;
  /** `IOTSOCKET_*` overrides; none when absent. */
  readonly env?: Record<string, string | undefined>;
  /**
   * 'load' (default): every referenced file must exist. 'check': files that first start
   * would generate (authKeyFile, dev certificate) are warnings; `config` is then left out
   * if the auth key cannot be read yet.
   */
  readonly mode?: 'load' | 'check';
}

export interface ParseResult {
  readonly config?: Config;
  readonly errors: ConfigIssue[];
  readonly warnings: string[];
}

/** A validated file with defaults and absolute paths, before any file it names is read. */
export interface ConfigDraft {
  readonly raw: RawConfig;
  readonly baseDir: string;
  /** Line of a dotted key path in the file, or undefined when that key came from the environment. */
  locate(path: string): number | undefined;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function resolvePaths(raw: RawConfig, baseDir: string): void {
  const tlsAbs = (t: RawTls | undefined) => {
    if (t) Object.assign(t, { cert: resolve(baseDir, t.cert), key: resolve(baseDir, t.key) });
  };
  tlsAbs(raw.tcp.tls);
  tlsAbs(raw.http.tls);
  tlsAbs(raw.admin?.tls);
  raw.acl.file = resolve(baseDir, raw.acl.file);
  if (raw.central.authKeyFile !== undefined) raw.central.authKeyFile = resolve(baseDir, raw.central.authKeyFile);
  if (raw.central.webhooks.ca !== undefined) raw.central.webhooks.ca = resolve(baseDir, raw.central.webhooks.ca);
  const cluster = raw.cluster;
  if (cluster?.passwordFile !== undefined) cluster.passwordFile = resolve(baseDir, cluster.passwordFile);
  if (cluster?.tls?.ca !== undefined) cluster.tls.ca = resolve(baseDir, cluster.tls.ca);
}

/**
 * `central.authKey` and `central.authKeyFile` exclude each other. One set from the environment
 * replaces the other kind written in the file, so `IOTSOCKET_CENTRAL__AUTHKEY=...` works with
 * a file that names authKeyFile (the shipped config). Both from one source stay an error.
 */
function preferEnvKeySource(data: Obj, sources: ReadonlyMap<string, string>): void {
  const central = data.central;
  if (!isObj(central)) return;
  const keyFromEnv = sources.has('central.authKey');
  const fileFromEnv = sources.has('central.authKeyFile');
  if (keyFromEnv && !fileFromEnv) delete central.authKeyFile;
  if (fileFromEnv && !keyFromEnv) delete central.authKey;
}

/** YAML, environment overrides and schema (with defaults); reads no other file. */
export function readConfigDraft(text: string, opts: ParseOptions): { draft?: ConfigDraft; errors: ConfigIssue[]; warnings: string[] } {
  const src = readYamlSource(text);
  const warnings = [...src.warnings];
  if (src.data === undefined) return { errors: src.errors, warnings };
  if (!isObj(src.data)) {
    return { errors: [{ path: '', line: 1, message: 'the file must hold a mapping of keys' }], warnings };
  }
  const data = src.data;
  const env = applyEnvOverrides(data, opts.env ?? {}, configSchema);
  const locate = (path: string): number | undefined => {
    for (const [p] of env.sources) if (path === p || path.startsWith(`${p}.`)) return undefined;
    return src.locate(path === '' ? [] : path.split('.'));
  };
  const fromEnv = (path: string) => [...env.sources].find(([p]) => path === p || path.startsWith(`${p}.`))?.[1];
  preferEnvKeySource(data, env.sources);
  const errors: ConfigIssue[] = [...env.issues];
  const issue = (path: string, message: string) => {
    const envName = fromEnv(path);
    errors.push(envName ? { path, message: `${message} (set by ${envName})` } : { path, line: locate(path), message });
  };
  if (!validateConfig(data)) {
    for (const s of schemaIssues(validateConfig.errors)) issue(s.path.join('.'), s.message);
  }
  if (isObj(data.cluster)) checkCluster(data.cluster, issue);
  const raw = data as unknown as RawConfig;
  const central = data.central;
  if (isObj(central) && (central.authKey === undefined) === (central.authKeyFile === undefined)) {
    const both = central.authKey !== undefined;
    errors.push({
      path: 'central',
      line: locate('central'),
      message: both ? 'set only one of authKey and authKeyFile' : 'one of authKey or authKeyFile is required',
    });
  }
  // Environment problems (no line) first, then in file order.
  if (errors.length > 0) return { errors: errors.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)), warnings };
  resolvePaths(raw, opts.baseDir);
  return { draft: { raw, baseDir: opts.baseDir, locate }, errors, warnings };
}

function readAuthKey(draft: ConfigDraft, issue: (path: string, message: string) => void, warnings: string[]): Buffer | undefined {
  const { authKey, authKeyFile } = draft.raw.central;
  if (authKey !== undefined) return Buffer.from(authKey, 'hex');
  const problem = fileProblem(authKeyFile!);
  if (problem) return void issue('central.authKeyFile', `${problem} (\`iotsocket start\` generates it on first start; \`iotsocket keygen\` prints a key)`);
  const text = readFileSync(authKeyFile!, 'utf8').trim();
  if (!/^[0-9A-Fa-f]{32}$/.test(text)) return void issue('central.authKeyFile', `${authKeyFile} must hold exactly 32 hex digits`);
  if (readableByOthers(authKeyFile!)) {
    warnings.push(`central.authKeyFile: ${authKeyFile} is readable by other users; chmod 600 it`);
  }
  return Buffer.from(text, 'hex');
}

function tlsFiles(keyPath: 'tcp.tls' | 'http.tls' | 'admin.tls', t: RawTls | undefined, deferred: readonly FirstStartStep[], issue: (p: string, m: string) => void): TlsFiles | undefined {
  if (!t) return undefined;
  const pending = deferred.some((s) => s.kind === 'dev-cert' && s.certFile === t.cert);
  if (!pending) {
    for (const which of ['cert', 'key'] as const) {
      const problem = fileProblem(t[which]);
      if (problem) issue(`${keyPath}.${which}`, problem);
    }
  }
  return { cert: t.cert, key: t.key };
}

/** Seconds a whole request may take to arrive when http.requestTimeoutSec is absent (the old fixed rule). */
const REQUEST_TIMEOUT_FLOOR_SEC = 30;
/** Headroom above maxWaitSec in that default, for the body to arrive. */
const REQUEST_TIMEOUT_MARGIN_SEC = 10;

/**
 * http.requestTimeoutSec. Node stops that timer once a request's body is in, so a held
 * /request is not under it today; keeping it above maxWaitSec still means no Node release
 * that counts the answer too can cut a held exchange. Absent: max(30, maxWaitSec + 10).
 */
function httpRequestTimeoutSec(h: RawConfig['http'], issue: (p: string, m: string) => void): number {
  if (h.requestTimeoutSec === undefined) return Math.max(REQUEST_TIMEOUT_FLOOR_SEC, h.maxWaitSec + REQUEST_TIMEOUT_MARGIN_SEC, h.headersTimeoutSec);
  if (h.requestTimeoutSec <= h.maxWaitSec) {
    issue('http.requestTimeoutSec', `must be greater than http.maxWaitSec (${h.maxWaitSec}): a held /request may wait that long (leave it out for max(30, maxWaitSec + 10))`);
  } else if (h.requestTimeoutSec < h.headersTimeoutSec) {
    issue('http.requestTimeoutSec', `must be at least http.headersTimeoutSec (${h.headersTimeoutSec}): the headers are part of the request`);
  }
  return h.requestTimeoutSec;
}

function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Buffer.isBuffer(value)) return value; // typed arrays cannot be frozen
  for (const v of Object.values(value)) deepFreeze(v);
  return Object.freeze(value);
}

/** Reads the files a draft names and builds the frozen Config. */
export function finishConfig(draft: ConfigDraft, opts: { mode?: 'load' | 'check' } = {}): ParseResult {
  const errors: ConfigIssue[] = [];
  const warnings: string[] = [];
  const issue = (path: string, message: string) => errors.push({ path, line: draft.locate(path), message });
  const deferred = opts.mode === 'check' ? planFirstStart(draft.raw) : [];
  for (const s of deferred) {
    warnings.push(s.kind === 'auth-key'
      ? `${s.keyPath}: ${s.file} does not exist yet; \`iotsocket start\` will generate a new key there`
      : `${s.keyPath}: ${s.certFile} does not exist yet; \`iotsocket start\` will generate a self-signed development certificate`);
  }
  const r = draft.raw;
  const keyDeferred = deferred.some((s) => s.kind === 'auth-key');
  const authKey = keyDeferred ? undefined : readAuthKey(draft, issue, warnings);
  const tcpTls = tlsFiles('tcp.tls', r.tcp.tls, deferred, issue);
  const httpTls = r.http.enabled ? tlsFiles('http.tls', r.http.tls, deferred, issue) : undefined;
  const adminPort = r.admin?.port;
  const adminTls = adminPort !== undefined ? tlsFiles('admin.tls', r.admin!.tls, deferred, issue) : undefined;
  if (r.admin && adminPort === undefined && r.admin.tls) issue('admin.tls', 'needs admin.port: without it there is no admin listener to carry TLS');
  if (r.admin?.console && adminPort === undefined && !r.http.enabled) {
    issue('admin.console', 'needs a listener for the admin routes: set admin.port, or http.enabled: true');
  }
  const ca = r.central.webhooks.ca;
  if (ca !== undefined) {
    const problem = fileProblem(ca);
    if (problem) issue('central.webhooks.ca', problem);
  }
  const secretText = r.central.webhooks.secret;
  const secret = secretText === undefined ? undefined : decodeWebhookSecret(secretText);
  if (typeof secret === 'string') issue('central.webhooks.secret', secret);
  const requestTimeoutSec = httpRequestTimeoutSec(r.http, issue);
  const cluster = r.cluster ? finishCluster(r.cluster, issue, warnings) : undefined;
  if (r.http.enabled && r.http.port !== 0 && r.http.port === r.tcp.port && r.http.host === r.tcp.host) {
    issue('http.port', `same address as tcp.port (${r.tcp.host}:${r.tcp.port})`);
  }
  if (errors.length > 0 || authKey === undefined) return { errors, warnings };
  const { authKey: _hex, authKeyFile: _file, ...central } = r.central;
  const { secret: _secretText, ...webhooks } = central.webhooks;
  const config: Config = {
    baseDir: draft.baseDir,
    keepSessionSec: r.keepSessionSec,
    tcp: { ...r.tcp, tls: tcpTls },
    udp: r.udp,
    http: { ...r.http, requestTimeoutSec, tls: httpTls },
    ...(adminPort !== undefined ? { admin: { host: r.admin!.host, port: adminPort, ...(adminTls ? { tls: adminTls } : {}) } } : {}),
    ...(r.admin?.console ? { adminConsole: true } : {}),
    central: { ...central, webhooks: Buffer.isBuffer(secret) ? { ...webhooks, secret } : webhooks, authKey },
    groups: r.groups,
    acl: r.acl,
    buffers: r.buffers,
    limits: r.limits,
    ...(cluster ? { cluster } : {}),
    log: r.log,
  };
  if (!config.tcp.tls) delete (config.tcp as { tls?: TlsFiles }).tls;
  if (!config.http.tls) delete (config.http as { tls?: TlsFiles }).tls;
  return { config: deepFreeze(config), errors, warnings };
}

/** Parses and validates a YAML configuration; collects every problem instead of stopping at the first. */
export function parseConfig(text: string, opts: ParseOptions): ParseResult {
  const first = readConfigDraft(text, opts);
  if (!first.draft) return { errors: first.errors, warnings: first.warnings };
  const done = finishConfig(first.draft, { mode: opts.mode });
  return { ...done, warnings: [...first.warnings, ...done.warnings] };
}

/**
 * Reads and parses a config file. `baseDir` defaults to process.cwd(), `env` to process.env.
 * @throws ConfigError (code ERR_IOTS_CONFIG) with every issue.
 */
export async function loadConfigFile(path: string, opts: Partial<Omit<ParseOptions, 'file'>> = {}): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError([{ path: '', message: `cannot read the config file: ${(err as Error).message}` }], path);
  }
  const res = parseConfig(text, { file: path, baseDir: opts.baseDir ?? process.cwd(), env: opts.env ?? process.env, mode: 'load' });
  if (!res.config) throw new ConfigError(res.errors, path);
  return res.config;
}
