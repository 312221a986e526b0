import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/build';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { bootServer, type TestServer } from '../support/server';
import { adminQuery, databaseUrl } from '../support/services';

/** The compiled CLI, run as an operator runs it after `npm run build` (global setup compiles once per run). */
const CLI = path.join(ROOT, 'dist/server/src/modules/identity/create-owner-cli.js');
const PASSWORD = 'the first owner password';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runNode(script: string, env: Record<string, string>, args: string[] = [], stdin?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [script, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', ...env },
      stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout!.on('data', (d) => (stdout += d));
    proc.stderr!.on('data', (d) => (stderr += d));
    proc.on('error', reject);
    proc.on('close', (code) => resolve({ code, stdout, stderr }));
    if (stdin !== undefined) proc.stdin!.end(stdin);
  });
}

const createOwner = (args: string[], env: Record<string, string>, stdin?: string) => runNode(CLI, env, args, stdin);

const owner = (email: string) => ['--email', email, '--name', 'First Owner', '--organization', 'Production Co'];

describe('npm run create-owner (the compiled CLI)', { timeout: 120_000 }, () => {
  let db: TestDatabase;
  let server: TestServer;

  const login = async (email: string, password: string) =>
    server.gql<{ login: { token: string } }>(`mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }`, { e: email, p: password });

  beforeAll(async () => {
    db = await createTestDatabase();
    // The server the owner logs in to runs as production does: sign-up closed.
    server = await bootServer({ db, env: { SIGNUP: 'closed' } });
  });
  afterAll(async () => {
    await server?.close();
    await db?.drop();
  });

  it('creates an organization whose OWNER logs in with the password from CREATE_OWNER_PASSWORD', async () => {
    const run = await createOwner(owner('env@prod.test'), { DATABASE_URL: db.url, CREATE_OWNER_PASSWORD: PASSWORD });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/created organization "Production Co" .* OWNER env@prod.test/);
    expect(run.stdout).not.toContain(PASSWORD);
    const r = await login('env@prod.test', PASSWORD);
    expect(r.body.errors).toBeUndefined();
    const me = await server.gql<{ me: { permissions: Array<{ workspaceId: string | null; permissions: string[] }> } }>(
      `{ me { permissions { workspaceId permissions } } }`,
      {},
      { token: r.body.data!.login.token },
    );
    expect(me.body.data!.me.permissions[0]!.workspaceId).toBeNull();
    expect(me.body.data!.me.permissions[0]!.permissions).toContain('OWNERS_MANAGE');
  });

  it('reads the password from stdin', async () => {
    const run = await createOwner(owner('stdin@prod.test'), { DATABASE_URL: db.url }, `${PASSWORD}\n`);
    expect(run.code).toBe(0);
    expect((await login('stdin@prod.test', PASSWORD)).body.errors).toBeUndefined();
  });

  it('generates a password when given none, and prints it once', async () => {
    const run = await createOwner(owner('generated@prod.test'), { DATABASE_URL: db.url });
    expect(run.code).toBe(0);
    const generated = /one-time password \(shown only now\): (\S+)/.exec(run.stdout)?.[1];
    expect(generated).toBeDefined();
    expect(run.stdout.split(generated!).length - 1).toBe(1);
    expect((await login('generated@prod.test', generated!)).body.errors).toBeUndefined();
  });

  it('refuses an email that already has an account, and creates nothing', async () => {
    const env = { DATABASE_URL: db.url, CREATE_OWNER_PASSWORD: PASSWORD };
    expect((await createOwner(owner('twice@prod.test'), env)).code).toBe(0);
    const organizations = async () => Number((await server.app.orm.em.getConnection().execute(`select count(*)::int n from organizations`))[0].n);
    const before = await organizations();
    const again = await createOwner(owner('twice@prod.test'), env);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toBe('create-owner: An account with this email already exists');
    expect(await organizations()).toBe(before);
  });

  it('refuses a password on the command line (argv is visible in ps)', async () => {
    const run = await createOwner([...owner('argv@prod.test'), '--password', PASSWORD], { DATABASE_URL: db.url });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/CREATE_OWNER_PASSWORD/);
    expect(codeOfLogin(await login('argv@prod.test', PASSWORD))).toBe('INVALID_CREDENTIALS');
  });

  it('applies the password policy', async () => {
    const run = await createOwner(owner('short@prod.test'), { DATABASE_URL: db.url, CREATE_OWNER_PASSWORD: 'short' });
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toMatch(/^create-owner: Passwords have 10 to 200 characters$/);
  });

  it('on a database that is not migrated: says to run `npm run migrate` first, and creates nothing', async () => {
    const name = `${db.name}_empty`;
    await adminQuery(`create database "${name}"`);
    try {
      const run = await createOwner(owner('early@prod.test'), { DATABASE_URL: databaseUrl(name), CREATE_OWNER_PASSWORD: PASSWORD });
      expect(run.code).toBe(1);
      expect(run.stderr.trim()).toMatch(/^create-owner: the database is not migrated .*run `npm run migrate` first$/);
      const client = new pg.Client({ connectionString: databaseUrl(name) });
      await client.connect();
      try {
        expect((await client.query(`select count(*)::int n from information_schema.tables where table_schema = 'public'`)).rows[0].n).toBe(0);
      } finally {
        await client.end();
      }
    } finally {
      await adminQuery(`drop database if exists "${name}" with (force)`);
    }
  });

  it('without DATABASE_URL: creates the owner in the embedded Postgres under DATA_DIR (after `migrate`)', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `sb-owner-${randomBytes(3).toString('hex')}-`));
    try {
      const env = { DATA_DIR: dataDir, CREATE_OWNER_PASSWORD: PASSWORD };
      const early = await createOwner(owner('embedded@prod.test'), env);
      expect(early.stderr).toMatch(/run `npm run migrate` first/);
      const migrate = await runNode(path.join(ROOT, 'dist/server/src/db/migrate-cli.js'), { DATA_DIR: dataDir, LOG_LEVEL: 'warn' });
      expect(migrate.stdout).toMatch(/applied: /);
      const created = await createOwner(owner('embedded@prod.test'), env);
      expect(created.stderr).toBe('');
      expect(created.code).toBe(0);
      // The row is there for the next process that opens the same data directory.
      const again = await createOwner(owner('embedded@prod.test'), env);
      expect(again.stderr.trim()).toBe('create-owner: An account with this email already exists');
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 240_000);

  it('without DATABASE_URL: refuses in one line while a running server owns the embedded Postgres', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `sb-owner-${randomBytes(3).toString('hex')}-`));
    try {
      // A live process named in postmaster.pid is what a running server's embedded Postgres leaves there.
      fs.mkdirSync(path.join(dataDir, 'postgres'));
      fs.writeFileSync(path.join(dataDir, 'postgres', 'postmaster.pid'), `${process.pid}\n${dataDir}\n`);
      const run = await createOwner(owner('embedded@prod.test'), { DATA_DIR: dataDir, CREATE_OWNER_PASSWORD: PASSWORD });
      expect(run.code).toBe(1);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(/in use by a running server .*stop the server first, or set DATABASE_URL/);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

function codeOfLogin(r: { body: { errors?: Array<{ extensions?: { code?: string } }> } }): string | undefined {
  return r.body.errors?.[0]?.extensions?.code;
}
