import 'reflect-metadata';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from './config';
import { initOrm, migrateUp } from './db/orm';

import { startEmbeddedPostgres, type EmbeddedPostgres } from './db/embedded';
import { seedDemoIfEmpty } from './db/seed/demo';
import { buildSchema } from './graphql/schema';
import { startHttpServer, type HttpServer } from './http/server';
import type { Logger } from './observability/logger';
import { Metrics } from './observability/metrics';
import type { EventBus } from './realtime/bus/event-bus';
import { InProcessBus } from './realtime/bus/in-process';
import { createRedisBus } from './realtime/bus/redis';
import { createServices, type Services } from './services';
import { Hub } from './realtime/hub';
import { Dashboards } from './realtime/dashboards';
import { openLive, type LiveDeps } from './realtime/live';
import { WakeupSubscriber } from './realtime/wakeups';
import { startSnoozeSweeper } from './modules/inbox/snooze';
import { pruneEvents } from './realtime/event-log';
import { systemClock, type Clock } from './shared/clock';
import { TENANT_FILTER } from './db/tenant';
import type { DeliveryStatus } from './modules/inbox/thread.entity';
import type { ChannelProvider } from './modules/inbox/channel';
import { RollupWorker, type ExportRuntimeOptions } from './modules/reports';
import { CampaignSender, type SenderOptions } from './modules/campaigns/sender';
import { ShortcodeWorker } from './modules/campaigns';
import { RecordingSandboxProvider } from './modules/inbox/recording-sandbox';
import { ReceiptQueue } from './modules/inbox/receipt-queue';
import { PARKED_RECEIPT_TTL_MS, sweepParkedReceipts } from './modules/inbox/parked-receipts';

/** Limits on the server's own Postgres sessions (migrations at start-up run well within them). */
const SERVER_STATEMENT_TIMEOUT_MS = 120_000;
const SERVER_IDLE_IN_TRANSACTION_TIMEOUT_MS = 30_000;

export interface Switchboard {
  url: string;
  port: number;
  orm: MikroORM;
  bus: EventBus;
  services: Services;
  http: HttpServer;
  metrics: Metrics;
  hub: Hub;
  /** The report rollup worker (null when started with `rollups: false`). */
  rollups: RollupWorker | null;
  /** The shortcode keyword worker (null when started with `shortcodes: false`). */
  shortcodes: ShortcodeWorker | null;
  /** Drains requests, closes websockets (1001), the bus, the database and the embedded Postgres. */
  stop(): Promise<void>;
}

export interface StartOptions {
  logger: Logger;
  clock?: Clock;
  /** Query hook (tests count SQL statements): each statement with the id of the request it runs for. */
  onQuery?: (sql: string, requestId: string | undefined) => void;
  /** Tests skip migrating when the database was cloned from a migrated template. */
  migrate?: boolean;
  channel?: ChannelProvider;
  /** The periodic snooze sweep (default on); a test that needs a database nobody else writes turns it off. */
  sweepSnoozes?: boolean;
  /**
   * The report rollup worker (default on); tests that count statements or drive a worker themselves turn it off.
   * Off also stops the periodic export sweep (due schedules, expired files) unless `exports.scheduleEveryMs` is set.
   */
  rollups?: boolean;
  /**
   * The shortcode keyword worker tailing the event log. Default: on when `rollups` is (both are background log
   * tailers that write, so a test turning rollups off for a quiet database gets neither).
   */
  shortcodes?: boolean;
  /** The broadcast campaign sender (pg-boss worker; default on); tests that must not send turn it off. */
  campaignWorkers?: boolean;
  /** Sender tuning (rate per workspace, lease, batch size); defaults in the sender's construction below. */
  campaignSender?: Partial<Omit<SenderOptions, 'databaseUrl'>>;
  /** Export tuning (schedule timer, progress interval); tests drive schedules by hand. */
  exports?: Partial<Pick<ExportRuntimeOptions, 'scheduleEveryMs' | 'progressEveryMs'>>;
}

/** Builds and starts the whole server from a validated config. */
export async function startSwitchboard(config: Config, opts: StartOptions): Promise<Switchboard> {
  const { logger } = opts;
  const cleanup: Array<() => Promise<void>> = [];
  const runCleanup = async () => {
    for (const fn of cleanup.reverse()) await fn().catch((err) => logger.warn({ err }, 'cleanup step failed'));
    cleanup.length = 0;
  };
  try {
    let databaseUrl: string | undefined = config.databaseUrl;
    let embedded: EmbeddedPostgres | undefined;
    if (!databaseUrl) {
      embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, logger });
      cleanup.push(() => embedded!.stop());
      databaseUrl = embedded.url;
      logger.info({ dataDir: config.dataDir }, 'no DATABASE_URL: started the embedded Postgres');
    }

    const orm = await initOrm({
      databaseUrl,
      logger: logger.child({ component: 'orm' }),
      onQuery: opts.onQuery,
      // A runaway statement or a transaction left open must not hold back everyone's live delivery.
      statementTimeoutMs: SERVER_STATEMENT_TIMEOUT_MS,
      idleInTransactionTimeoutMs: SERVER_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    });
    cleanup.push(() => orm.close(true));
    if (opts.migrate !== false) {
      const applied = await migrateUp(orm);
      if (applied.length) logger.info({ applied }, 'applied migrations');
    }

    const clock = opts.clock ?? systemClock;
    const recorder = !opts.channel && config.sandboxRecordSends ? new RecordingSandboxProvider(databaseUrl) : undefined;
    if (recorder) cleanup.push(() => recorder.close());
    const services = createServices({
      clock,
      sessionTtlMs: config.sessionTtlHours * 3_600_000,
      logger: logger.child({ component: 'services' }),
      publicUrl: config.publicUrl,
      smtpUrl: config.smtpUrl,
      signup: config.signup,
      channel: opts.channel ?? recorder,
    });
    // Delivery receipts from the channel move message statuses forward (idempotently), coalesced into one
    // transaction per batch (modules/inbox/receipt-queue.ts); the queue drains before the database closes.
    const receipts = new ReceiptQueue((organizationId, batch) => {
      const em = orm.em.fork({ clear: true, useContext: false });
      em.setFilterParams(TENANT_FILTER, { organizationId });
      return services.messaging.applyReceipts(em, organizationId, batch);
    }, logger.child({ component: 'receipts' }));
    services.channel.onReceipt((receipt) => receipts.push({ ...receipt, status: receipt.status as DeliveryStatus }));
    cleanup.push(() => receipts.idle());
    // Broadcast campaigns: pg-boss starts on the first campaign started, or at once when one is RUNNING (a
    // restart resumes it), so a server with no campaigns runs no queue at all.
    if (opts.campaignWorkers !== false) {
      const sender = new CampaignSender(orm, services.channel, clock, logger.child({ component: 'campaigns' }), {
        databaseUrl,
        ratePerSecond: config.campaignSendRate,
        leaseSeconds: config.campaignLeaseSeconds,
        batchSize: config.campaignBatchSize,
        ...opts.campaignSender,
      }, services.campaigns);
      cleanup.push(() => sender.stop());
      services.campaigns.onRunning = (campaign) => void sender.enqueue(campaign).catch((err) => logger.warn({ err }, 'could not enqueue a campaign'));
      services.campaigns.onScheduled = (campaign) => void sender.scheduleStart(campaign).catch((err) => logger.warn({ err }, 'could not schedule a campaign start'));
      await sender.resumeRunning();
    }
    if (config.seedDemo) await seedDemoIfEmpty(orm, services, logger);

    let bus: EventBus;
    if (config.redisUrl) {
      bus = await createRedisBus(config.redisUrl, logger.child({ component: 'redis' }));
    } else {
      bus = new InProcessBus();
      logger.info('no REDIS_URL: in-process event bus (one server process)');
    }
    cleanup.push(() => bus.close());

    const metrics = new Metrics();
    // One tailer per process reads the event log and fans events out to this process's subscribers, and
    // access changes (ACCESS_CHANGED rows) to its socket registry (http/websocket.ts).
    const hub = new Hub(orm, bus, logger.child({ component: 'hub' }));
    await hub.start();
    cleanup.push(() => hub.stop());
    // Reports read rollups kept by a worker tailing the event log (modules/reports/rollup-worker.ts); local
    // commits wake it with the hub, other processes' commits reach it by polling.
    const rollups = opts.rollups !== false ? new RollupWorker(orm, logger.child({ component: 'rollups' })) : null;
    // Shortcode keywords: a worker tails inbound messages in the event log (modules/campaigns/shortcode-worker.ts).
    const shortcodes = (opts.shortcodes ?? opts.rollups !== false) ? new ShortcodeWorker(orm, services.channel, logger.child({ component: 'shortcodes' })) : null;
    orm.em.getEventManager().registerSubscriber(new WakeupSubscriber((workspaces) => {
      void hub.publishWakeups(workspaces);
      rollups?.wake();
      shortcodes?.wake();
    }));
    if (shortcodes) {
      shortcodes.start();
      cleanup.push(() => shortcodes.stop());
    }
    if (rollups) {
      rollups.start();
      cleanup.push(() => rollups.stop());
    }
    const pruneTimer = setInterval(() => {
      pruneEvents(orm.em.fork(), config.eventRetentionDays).catch((err) => logger.warn({ err }, 'event pruning failed'));
      // Parked delivery receipts whose message never appeared (modules/inbox/parked-receipts.ts) expire after a day.
      sweepParkedReceipts(orm.em.fork(), new Date(clock.now().getTime() - PARKED_RECEIPT_TTL_MS)).catch((err) => logger.warn({ err }, 'parked receipt sweep failed'));
    }, 3_600_000);
    pruneTimer.unref();
    cleanup.push(async () => clearInterval(pruneTimer));
    // Snoozes that run out are persisted as OPEN, with their THREAD_UPDATED events.
    if (opts.sweepSnoozes !== false) {
      const stopSnoozeSweeper = startSnoozeSweeper(orm.em, services.clock, logger.child({ component: 'snooze' }));
      cleanup.push(async () => stopSnoozeSweeper());
    }

    // The audit of reads is buffered in memory and written in batches; stopping writes what is left.
    services.readAudit.start(orm, logger.child({ component: 'read-audit' }), { retentionDays: config.readAuditRetentionDays });
    cleanup.push(() => services.readAudit.stop());
    // Exports run as pg-boss jobs (started on first use, or at once when some are unfinished or scheduled).
    await services.exports.start({
      orm, logger: logger.child({ component: 'exports' }), databaseUrl, dir: config.exportDir, urlTtlMinutes: config.exportUrlTtlMinutes, retentionHours: config.exportRetentionHours,
      publicUrl: config.publicUrl, secretsKey: config.exportSecretsKey, readAudit: services.readAudit,
      // A server started for a quiet database (rollups off: statement-counting tests) runs no periodic export sweep either.
      ...(opts.rollups === false ? { scheduleEveryMs: 0 } : {}), ...opts.exports,
    });
    cleanup.push(() => services.exports.stop());

    const limits = { maxQueuedEvents: config.liveMaxQueuedEvents, maxBufferedBytes: config.liveMaxBufferedBytes };
    const live: LiveDeps = { hub, orm, services, metrics, limits, dashboards: new Dashboards(orm), stream: (ctx, spec) => openLive(ctx, live, spec) };
    const http = await startHttpServer({ config, orm, bus, services, schema: buildSchema(), logger, metrics, live });
    cleanup.push(() => http.stop());

    let stopped: Promise<void> | undefined;
    return {
      url: http.url,
      port: http.port,
      orm,
      bus,
      services,
      http,
      metrics,
      hub,
      rollups,
      shortcodes,
      stop: () => (stopped ??= runCleanup()),
    };
  } catch (err) {
    await runCleanup();
    throw err;
  }
}
