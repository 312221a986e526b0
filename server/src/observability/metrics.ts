import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * One registry per server instance (tests boot several servers in one process; a global registry would
 * double-register).
 */
export class Metrics {
  readonly registry = new Registry();
  readonly operations = new Counter({
    name: 'switchboard_graphql_operations_total',
    help: 'GraphQL operations by name, type and outcome',
    labelNames: ['operation', 'type', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly operationSeconds = new Histogram({
    name: 'switchboard_graphql_operation_duration_seconds',
    help: 'GraphQL operation latency by name and type',
    labelNames: ['operation', 'type'] as const,
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly websocketConnections = new Gauge({
    name: 'switchboard_websocket_connections',
    help: 'Open websocket connections',
    registers: [this.registry],
  });
  readonly activeSubscriptions = new Gauge({
    name: 'switchboard_active_subscriptions',
    help: 'Active GraphQL subscriptions',
    registers: [this.registry],
  });

  readonly subscriptionsEnded = new Counter({
    name: 'switchboard_subscriptions_ended_total',
    help: 'Live subscriptions ended, by subscription and reason',
    labelNames: ['subscription', 'reason'] as const,
    registers: [this.registry],
  });
  readonly slowConsumerCloses = new Counter({
    name: 'switchboard_slow_consumer_closes_total',
    help: 'Sockets closed with 4008 for falling behind (realtime/backpressure.ts)',
    registers: [this.registry],
  });
  readonly slowConsumerHeld = new Gauge({
    name: 'switchboard_slow_consumer_held_max',
    help: 'The most events and bytes one socket held when it was closed for falling behind, by kind (events, bytes)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly accessRechecks = new Counter({
    name: 'switchboard_socket_access_rechecks_total',
    help: 'Socket credentials re-resolved after an access change, by outcome (kept, closed, failed)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  constructor(withDefaults = true) {
    if (withDefaults) collectDefaultMetrics({ register: this.registry, prefix: 'switchboard_' });
  }
}
