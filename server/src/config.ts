/**
 * Environment schema, validated once at start. A bad value stops the process with one line naming the
 * variable: operators should never have to read a stack trace to find a typo in their environment.
 */
import { DEFAULT_LIVE_LIMITS } from './realtime/backpressure';

export type NodeEnv = 'development' | 'production' | 'test';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  nodeEnv: NodeEnv;
  port: number;
  host: string;
  /** Unset means: run the embedded Postgres under dataDir. */
  databaseUrl: string | undefined;
  /** Unset means: in-process event bus (one server process only). */
  redisUrl: string | undefined;
  logLevel: LogLevel;
  publicUrl: string;
  /** Origins allowed to open websockets and send credentialed requests; empty = same host only. */
  allowedOrigins: string[];
  /**
   * Outside production, pages served by this server at any loopback name (localhost, 127.0.0.1, [::1]) may
   * open websockets: the IDE works at whichever of them the browser was given.
   */
  loopbackOrigins: boolean;
  dataDir: string;
  /** Serve the GraphQL IDE at /graphql for browsers. Defaults to on outside production. */
  ide: boolean;
  introspection: boolean;
  sessionTtlHours: number;
  smtpUrl: string | undefined;
  /** Load the demo organization on first start (zero-setup runs default to on). */
  seedDemo: boolean;
  shutdownTimeoutMs: number;
  eventRetentionDays: number;
  /** How long the audit of reads keeps a read (READ_AUDIT_RETENTION_DAYS). */
  readAuditRetentionDays: number;
  /** `open`: anyone may `signUp` an organization; `closed`: only `npm run create-owner` makes one. */
  signup: SignupMode;
  /** Backpressure per socket (realtime/backpressure.ts): past either bound the socket is closed with 4008. */
  liveMaxQueuedEvents: number;
  liveMaxBufferedBytes: number;
  /** Where export files are written (EXPORT_DIR; default DATA_DIR/exports). Shared by every process that serves downloads. */
  exportDir: string;
  /** How long a one-time download URL of an export stays valid (EXPORT_URL_TTL_MINUTES). */
  exportUrlTtlMinutes: number;
  /** How long a finished, never downloaded export keeps its file (EXPORT_RETENTION_HOURS). */
  exportRetentionHours: number;
  /** Key for export destination secrets (EXPORT_SECRETS_KEY: 32 bytes, base64); unset: destinations cannot be configured. */
  exportSecretsKey: string | undefined;
  /** Broadcast sending: messages per second per workspace and sending process (CAMPAIGN_SEND_RATE). */
  campaignSendRate: number;
  /** Recipients per send batch (CAMPAIGN_BATCH_SIZE). */
  campaignBatchSize: number;
  /** A claimed recipient is taken over after this long when its sender died (CAMPAIGN_LEASE_SECONDS). */
  campaignLeaseSeconds: number;
  /** Outside production: the sandbox channel also records every send in the table sandbox_channel.sends. */
  sandboxRecordSends: boolean;
}

export type SignupMode = 'open' | 'closed';

export class ConfigError extends Error {
  constructor(readonly variable: string, reason: string) {
    super(`invalid ${variable}: ${reason}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected an integer, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `expected ${min}..${max}, got ${n}`);
  return n;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(name, `expected true or false, got "${raw}"`);
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = str(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, 'not a valid URL');
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `expected a ${protocols.join(' or ')} URL, got "${parsed.protocol}"`);
  }
  if (!parsed.hostname) throw new ConfigError(name, 'the URL names no host');
  return raw;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (!allowed.includes(raw as T)) throw new ConfigError(name, `expected one of ${allowed.join(', ')}, got "${raw}"`);
  return raw as T;
}

function secretsKey(env: Env, name: string): string | undefined {
  const raw = str(env, name);
  if (raw === undefined) return undefined;
  if (Buffer.from(raw, 'base64').length !== 32) throw new ConfigError(name, 'expected 32 bytes, base64-encoded (openssl rand -base64 32)');
  return raw;
}

/** The origins of this server's own pages at each loopback name. */
export function loopbackOriginsFor(port: number): string[] {
  return ['localhost', '127.0.0.1', '[::1]'].map((host) => `http://${host}:${port}`);
}

function sandboxRecordSends(env: Env, production: boolean): boolean {
  const on = bool(env, 'SANDBOX_RECORD_SENDS', false);
  if (on && production) throw new ConfigError('SANDBOX_RECORD_SENDS', 'the recording sandbox channel is for development and tests, not production');
  return on;
}

export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = oneOf(env, 'NODE_ENV', ['development', 'production', 'test'] as const, 'development');
  const production = nodeEnv === 'production';
  const port = int(env, 'PORT', 4000, 0, 65535);
  const host = str(env, 'HOST') ?? '127.0.0.1';
  const publicUrl = url(env, 'PUBLIC_URL', ['http:', 'https:']) ?? `http://localhost:${port}`;
  const origins = (str(env, 'ALLOWED_ORIGINS') ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  for (const o of origins) url({ ALLOWED_ORIGINS: o }, 'ALLOWED_ORIGINS', ['http:', 'https:']);
  const ide = bool(env, 'GRAPHQL_IDE', !production);
  const loopbackOrigins = !production;
  return {
    nodeEnv,
    port,
    host,
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
    logLevel: oneOf(env, 'LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    publicUrl,
    allowedOrigins: [
      ...new Set([new URL(publicUrl).origin, ...origins, ...(loopbackOrigins && port !== 0 ? loopbackOriginsFor(port) : [])]),
    ],
    loopbackOrigins,
    dataDir: str(env, 'DATA_DIR') ?? '.data',
    ide,
    // Introspection follows the IDE (it needs it) and is off in production unless asked for explicitly.
    introspection: bool(env, 'GRAPHQL_INTROSPECTION', ide),
    sessionTtlHours: int(env, 'SESSION_TTL_HOURS', 24 * 14, 1, 24 * 365),
    smtpUrl: url(env, 'SMTP_URL', ['smtp:', 'smtps:']),
    seedDemo: bool(env, 'SEED_DEMO', !production),
    shutdownTimeoutMs: int(env, 'SHUTDOWN_TIMEOUT_MS', 8000, 100, 60000),
    eventRetentionDays: int(env, 'EVENT_RETENTION_DAYS', 7, 1, 365),
    readAuditRetentionDays: int(env, 'READ_AUDIT_RETENTION_DAYS', 365, 1, 3650),
    // A production install is not a public sign-up page unless its operator says so.
    signup: oneOf(env, 'SIGNUP', ['open', 'closed'] as const, production ? 'closed' : 'open'),
    liveMaxQueuedEvents: int(env, 'LIVE_MAX_QUEUED_EVENTS', DEFAULT_LIVE_LIMITS.maxQueuedEvents, 10, 1_000_000),
    liveMaxBufferedBytes: int(env, 'LIVE_MAX_BUFFERED_BYTES', DEFAULT_LIVE_LIMITS.maxBufferedBytes, 16 * 1024, 1024 * 1024 * 1024),
    exportDir: str(env, 'EXPORT_DIR') ?? `${str(env, 'DATA_DIR') ?? '.data'}/exports`,
    exportUrlTtlMinutes: int(env, 'EXPORT_URL_TTL_MINUTES', 60, 1, 7 * 24 * 60),
    exportRetentionHours: int(env, 'EXPORT_RETENTION_HOURS', 72, 1, 24 * 90),
    exportSecretsKey: secretsKey(env, 'EXPORT_SECRETS_KEY'),
    campaignSendRate: int(env, 'CAMPAIGN_SEND_RATE', 50, 1, 1_000_000),
    campaignBatchSize: int(env, 'CAMPAIGN_BATCH_SIZE', 1000, 1, 5_000),
    campaignLeaseSeconds: int(env, 'CAMPAIGN_LEASE_SECONDS', 60, 2, 3_600),
    sandboxRecordSends: sandboxRecordSends(env, production),
  };
}
