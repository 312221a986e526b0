import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { MikroORM } from '@mikro-orm/postgresql';
import { ConfigError, loadConfig } from '../../config';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../db/embedded';
import { migrationsList } from '../../db/migrations';
import { initOrm } from '../../db/orm';
import { DomainError } from '../../shared/errors';
import { createLogger } from '../../observability/logger';
import { systemClock } from '../../shared/clock';
import { AuthenticationService } from './authentication.service';
import { Throttle } from './throttle';

/**
 * `npm run create-owner -- --email a@b.c --name "Ada" --organization "Acme"`: the first organization and its
 * OWNER on an install where sign-up is closed. The password comes from CREATE_OWNER_PASSWORD, or stdin when
 * stdin is not a terminal, or is generated and printed once. Never from argv: argv is visible in `ps`.
 */
const USAGE = `usage: npm run create-owner -- --email <email> --name <name> --organization <organization name>
  password: env CREATE_OWNER_PASSWORD, or piped on stdin; otherwise one is generated and printed once.
  Run \`npm run migrate\` first. Uses DATABASE_URL, or the embedded Postgres under DATA_DIR when it is unset.`;

class CliError extends Error {}

function parse(argv: string[]): { email: string; name: string; organization: string } {
  if (argv.some((a) => a === '--password' || a.startsWith('--password='))) {
    throw new CliError('never pass a password on the command line (other users see it in `ps`): set CREATE_OWNER_PASSWORD or pipe it on stdin');
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { email: { type: 'string' }, name: { type: 'string' }, organization: { type: 'string' }, help: { type: 'boolean' } },
      strict: true,
    }));
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const missing = ['email', 'name', 'organization'].filter((k) => typeof values[k] !== 'string' || !(values[k] as string).trim());
  if (missing.length) throw new CliError(`missing ${missing.map((m) => `--${m}`).join(', ')}\n${USAGE}`);
  return { email: values.email as string, name: values.name as string, organization: values.organization as string };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** The password to set, and whether we made it up (then it is printed once). */
async function password(): Promise<{ value: string; generated: boolean }> {
  const fromEnv = process.env.CREATE_OWNER_PASSWORD;
  if (fromEnv) return { value: fromEnv, generated: false };
  if (!process.stdin.isTTY) {
    const piped = await readStdin();
    if (piped) return { value: piped, generated: false };
  }
  return { value: randomBytes(18).toString('base64url'), generated: true };
}

/** A live postmaster on the data directory belongs to a running server: using it from here would stop it. */
function assertEmbeddedFree(dataDir: string): void {
  const pidFile = path.join(path.resolve(dataDir), 'postgres', 'postmaster.pid');
  if (!fs.existsSync(pidFile)) return;
  const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, 0);
  } catch {
    return; // stale: the embedded start clears it
  }
  throw new CliError(
    `the embedded Postgres in ${dataDir} is in use by a running server (postmaster pid ${pid}): stop the server first, or set DATABASE_URL`,
  );
}

async function assertMigrated(orm: MikroORM): Promise<void> {
  const conn = orm.em.getConnection();
  const [table] = await conn.execute<{ t: string | null }[]>(`select to_regclass('mikro_orm_migrations')::text as t`);
  const applied = table?.t ? (await conn.execute<{ name: string }[]>(`select name from mikro_orm_migrations`)).map((r) => r.name.replace(/\.[jt]s$/, '')) : [];
  const pending = migrationsList.filter((m) => !applied.includes(m.name));
  if (pending.length) {
    throw new CliError(`the database is not migrated (${pending.length} migration(s) pending): run \`npm run migrate\` first`);
  }
}

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2));
  const config = loadConfig(process.env);
  const logger = createLogger(process.env.LOG_LEVEL ? config.logLevel : 'warn');
  const secret = await password();
  let embedded: EmbeddedPostgres | undefined;
  if (!config.databaseUrl) {
    assertEmbeddedFree(config.dataDir);
    embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, logger });
  }
  const orm = await initOrm({ databaseUrl: config.databaseUrl ?? embedded!.url, logger, poolMax: 2 });
  try {
    await assertMigrated(orm);
    const authentication = new AuthenticationService(systemClock, 0, new Throttle());
    const { user, organization } = await authentication.createOwner(orm.em.fork({ clear: true, useContext: false }), {
      organizationName: args.organization,
      name: args.name,
      email: args.email,
      password: secret.value,
    });
    process.stdout.write(`created organization "${organization.name}" (${organization.id}) and its OWNER ${user.email} (${user.id})\n`);
    if (secret.generated) {
      process.stdout.write(`one-time password (shown only now): ${secret.value}\nlog in with it, then set your own with the changePassword mutation\n`);
    }
  } finally {
    await orm.close(true);
    await embedded?.stop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    const known = err instanceof CliError || err instanceof ConfigError || err instanceof DomainError;
    process.stderr.write(`create-owner: ${known ? err.message : ((err as Error).stack ?? String(err))}\n`);
    process.exit(1);
  },
);
