import { ADD_ONS, ORGANIZATION_PERMISSIONS, PERMISSION_DESCRIPTIONS, Permission, ROLE_PRESETS, Role } from './permissions';

const ROLES = Object.values(Role);

/** How many of the fields checking a permission the doc names (the schema has them all). */
const FIELDS_SHOWN = 6;

/**
 * docs/PERMISSIONS.md, rendered from the catalogue (never edited by hand: `npm run docs:permissions`), and from
 * the schema's checks (graphql/permission-checks.ts) when given: which fields require each permission.
 */
export function renderPermissionsDoc(checks?: ReadonlyMap<Permission, readonly string[]>): string {
  const out: string[] = [
    '# Permissions',
    '',
    '<!-- Generated from server/src/modules/identity/permissions.ts by `npm run docs:permissions`. Do not edit. -->',
    '',
    'Every guarded field of the schema names the permissions it requires with `@auth(requires: [...])`.',
    'A permission is held organization-wide (an organization-level membership) or on a workspace, and a',
    'workspace grant reaches every workspace below it. A membership holds one or more role presets, optional',
    "add-ons and custom roles; its permissions are their union. API keys hold a subset of their creator's",
    'permissions on one workspace.',
    '',
    '## Role presets',
    '',
    '| Role | Also known as | Granted on | What it is for |',
    '|---|---|---|---|',
    ...ROLES.map((r) => {
      const p = ROLE_PRESETS[r];
      return `| \`${r}\` | ${p.covers.join(', ')} | ${p.scope} | ${p.summary} |`;
    }),
    '',
    '## Add-ons',
    '',
    '| Add-on | Also known as | Grants | What it is for |',
    '|---|---|---|---|',
    ...Object.values(ADD_ONS).map((a) => `| \`${a.addOn}\` | ${a.covers.join(', ')} | ${[...a.permissions].map((p) => `\`${p}\``).join(', ')} | ${a.summary} |`),
    '',
    '## Permissions by role',
    '',
    `| Permission | ${ROLES.join(' | ')} | Meaning |`,
    `|---|${ROLES.map(() => ':---:').join('|')}|---|`,
    ...Object.values(Permission).map((perm) => {
      const cells = ROLES.map((r) => (ROLE_PRESETS[r].permissions.has(perm) ? 'x' : ''));
      const org = ORGANIZATION_PERMISSIONS.has(perm) ? ' (organization-wide only)' : '';
      return `| \`${perm}\` | ${cells.join(' | ')} | ${PERMISSION_DESCRIPTIONS[perm]}${org} |`;
    }),
    '',
    '## Rules that are not a single permission',
    '',
    '- Only owners invite, promote, demote or remove owners (`OWNERS_MANAGE`); OWNER is granted organization-wide.',
    '- Admins invite and edit users at their own level or below, and never grant a permission they do not hold there.',
    '- Nobody changes a grant wider than their own; the last active owner cannot be demoted, removed or deactivated.',
    '- Users set their own availability; holders of `AVAILABILITY_MANAGE` set it for people of their workspaces.',
    "- An API key never holds more than its creator holds on the key's workspace, now or later.",
    '',
  ];
  if (checks) {
    out.push(
      '## Where each permission is checked',
      '',
      'The fields whose `@auth` requires it (a few named, then the count). "none" means no field checks it: a rule',
      'in a service or policy does, or the capability is not built yet (tests/identity/permissions-checked.test.ts).',
      '',
      '| Permission | Fields |',
      '|---|---|',
      ...Object.values(Permission).map((perm) => {
        const fields = checks.get(perm) ?? [];
        const shown = fields.slice(0, FIELDS_SHOWN).map((f) => `\`${f}\``).join(', ');
        return `| \`${perm}\` | ${fields.length ? `${shown}${fields.length > FIELDS_SHOWN ? ` and ${fields.length - FIELDS_SHOWN} more` : ''} (${fields.length})` : 'none'} |`;
      }),
      '',
    );
  }
  return out.join('\n');
}
