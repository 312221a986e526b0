import 'reflect-metadata';
import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { initOrm, migrateUp } from '../../server/src/db/orm';
import { adminQuery, assertServicesUp, databaseUrl } from './services';
import { buildServer } from './build';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A database migrated once per run; each test file clones it (CREATE DATABASE ... TEMPLATE). */
    templateDatabase: string;
  }
}

export const DB_PREFIX = 'sbt_';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Databases left by runs that were killed (their pid is in the name and no longer alive). */
async function dropLeftovers(): Promise<void> {
  const rows = await adminQuery<{ datname: string }>(`select datname from pg_database where datname like 'sbt\\_%'`);
  for (const { datname } of rows) {
    const pid = Number(/^sbt_(\d+)_/.exec(datname)?.[1]);
    if (pid && !alive(pid)) await adminQuery(`drop database if exists "${datname}" with (force)`);
  }
}

export default async function setup(project: TestProject) {
  // A missing service is a failure, never a skip.
  await assertServicesUp();
  await dropLeftovers();
  // Process-level tests (start-up errors, SIGTERM) run the compiled server like an operator would.
  buildServer();
  const template = `${DB_PREFIX}${process.pid}_template`;
  await adminQuery(`drop database if exists "${template}" with (force)`);
  await adminQuery(`create database "${template}"`);
  const orm = await initOrm({ databaseUrl: databaseUrl(template), poolMax: 2 });
  try {
    await migrateUp(orm);
  } finally {
    await orm.close(true);
  }
  project.provide('templateDatabase', template);

  return async () => {
    const rows = await adminQuery<{ datname: string }>(`select datname from pg_database where datname like $1`, [`${DB_PREFIX}${process.pid}\\_%`]);
    for (const { datname } of rows) await adminQuery(`drop database if exists "${datname}" with (force)`);
  };
}
