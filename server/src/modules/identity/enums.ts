import { registerEnumType } from 'type-graphql';
import { AddOn, PERMISSION_DESCRIPTIONS, Permission, ROLE_PRESETS, Role, ADD_ONS } from './permissions';

// The catalogue's enums, described from the catalogue itself so the SDL and the IDE explain each value.
registerEnumType(Permission, {
  name: 'Permission',
  description: 'The unit the @auth directive names. See docs/PERMISSIONS.md.',
  valuesConfig: Object.fromEntries(Object.values(Permission).map((p) => [p, { description: PERMISSION_DESCRIPTIONS[p] }])),
});
registerEnumType(Role, {
  name: 'Role',
  description: 'Role presets: named sets of permissions.',
  valuesConfig: Object.fromEntries(
    Object.values(Role).map((r) => [r, { description: `${ROLE_PRESETS[r].summary} (${ROLE_PRESETS[r].covers.join(', ')})` }]),
  ),
});
registerEnumType(AddOn, {
  name: 'AddOn',
  description: 'Optional permissions granted per membership on top of its roles.',
  valuesConfig: Object.fromEntries(Object.values(AddOn).map((a) => [a, { description: ADD_ONS[a].summary }])),
});
