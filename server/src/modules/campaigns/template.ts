import { badInput } from '../../shared/errors';

/** The contact fields a template may name as {{contact.<field>}}; custom fields are {{custom.<name>}}. */
const CONTACT_FIELDS = ['firstName', 'lastName', 'phone', 'email'] as const;
const VARIABLE = /\{\{\s*([A-Za-z]+)\.([A-Za-z][\w]{0,49})\s*\}\}/g;

export interface TemplateContact {
  firstName: string | null;
  lastName: string | null;
  phone: string | null;
  email: string | null;
  customFields: Record<string, unknown>;
}

/** The variables a template names, e.g. ['contact.firstName', 'custom.district']; an unknown one is BAD_USER_INPUT. */
export function templateVariables(template: string): string[] {
  const out = new Set<string>();
  for (const m of template.matchAll(VARIABLE)) {
    const [, scope, name] = m;
    if (scope === 'contact' && !(CONTACT_FIELDS as readonly string[]).includes(name!)) {
      throw badInput(`Unknown contact field {{contact.${name}}} (use ${CONTACT_FIELDS.join(', ')} or {{custom.<name>}})`, { field: 'messageTemplate' });
    }
    if (scope !== 'contact' && scope !== 'custom') throw badInput(`Unknown variable {{${scope}.${name}}}: use {{contact.<field>}} or {{custom.<name>}}`, { field: 'messageTemplate' });
    out.add(`${scope}.${name}`);
  }
  return [...out];
}

function valueOf(contact: TemplateContact, variable: string): string | null {
  const [scope, name] = variable.split('.') as [string, string];
  const raw = scope === 'contact' ? contact[name as (typeof CONTACT_FIELDS)[number]] : contact.customFields[name];
  if (raw === null || raw === undefined) return null;
  const text = String(raw).trim();
  return text === '' ? null : text;
}

/** The variables a contact has no value for (reported per contact before a campaign starts). */
export function missingVariables(variables: readonly string[], contact: TemplateContact): string[] {
  return variables.filter((v) => valueOf(contact, v) === null);
}

/** The message for one contact; a variable without a value renders empty (start skips such contacts first). */
export function renderFor(template: string, contact: TemplateContact): string {
  return template.replace(VARIABLE, (_, scope: string, name: string) => valueOf(contact, `${scope}.${name}`) ?? '').replace(/[ \t]{2,}/g, ' ').trim();
}
