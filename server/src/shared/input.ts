import { badInput } from './errors';

/** A display name (of a person, workspace, role, tag...): trimmed, 1 to `max` characters, else BAD_USER_INPUT. */
export function checkName(name: string, field = 'name', max = 200): string {
  const n = name.trim();
  if (!n || n.length > max) throw badInput(`${field} must have 1 to ${max} characters`, { field });
  return n;
}
