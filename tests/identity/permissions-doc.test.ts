import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderPermissionsDoc } from '../../server/src/modules/identity/permissions-doc';
import { ADD_ONS, ROLE_PRESETS } from '../../server/src/modules/identity/permissions';
import { permissionChecks } from '../../server/src/graphql/permission-checks';
import { buildDeclaredSchema } from '../../server/src/graphql/schema';

describe('docs/PERMISSIONS.md', () => {
  it('is generated from the catalogue (run `npm run docs:permissions` when this fails)', () => {
    expect(fs.readFileSync(path.resolve(__dirname, '../../docs/PERMISSIONS.md'), 'utf8')).toBe(renderPermissionsDoc(permissionChecks(buildDeclaredSchema())));
  });

  it('names every role and add-on of the help pages', () => {
    const covered = [...Object.values(ROLE_PRESETS), ...Object.values(ADD_ONS)].flatMap((p) => p.covers);
    for (const name of ['Organization Owner', 'Admin', 'Account Admin', 'Administrator', 'Dispatcher', 'Supervolunteer', 'Supervisor',
      'Agent', 'Texter', 'Auditor', 'Marketer', 'User (view only)', 'Stakeholder', 'Order Payment Administrator',
      'Conversation Dispenser', 'Conversation Transfer', 'Independent Orders', 'Payment Reconciler', 'Conversation Reports', 'Payment Reports']) {
      expect(covered).toContain(name);
    }
  });
});
