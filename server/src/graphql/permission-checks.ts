import { isObjectType, type GraphQLSchema } from 'graphql';
import { Permission } from '../modules/identity/permissions';
import { fieldAuth } from './auth';

/**
 * Where each permission of the catalogue is checked: `Type.field` for every field whose @auth (its own or its
 * type's) requires it. A permission with no entry is a name without behaviour.
 */
export function permissionChecks(schema: GraphQLSchema): Map<Permission, string[]> {
  const out = new Map<Permission, string[]>(Object.values(Permission).map((p) => [p, []]));
  for (const type of Object.values(schema.getTypeMap()).sort((a, b) => a.name.localeCompare(b.name))) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields()).sort((a, b) => a.name.localeCompare(b.name))) {
      for (const p of fieldAuth(schema, type.name, field.name)?.requires ?? []) out.get(p)?.push(`${type.name}.${field.name}`);
    }
  }
  return out;
}
