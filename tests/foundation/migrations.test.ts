import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MikroORM } from '@mikro-orm/postgresql';
import { initOrm } from '../../server/src/db/orm';
import { createTestDatabase, type TestDatabase } from '../support/db';

describe('committed migrations', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  beforeAll(async () => {
    db = await createTestDatabase();
    orm = await initOrm({ databaseUrl: db.url, poolMax: 2 });
  });
  afterAll(async () => {
    await orm.close(true);
    await db.drop();
  });

  it('describe exactly the entities (run `npm run migration:create` when this fails)', async () => {
    const diff = await orm.getSchemaGenerator().getUpdateSchemaSQL({ wrap: false });
    expect(diff.trim()).toBe('');
  });
});
