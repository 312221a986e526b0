import type { Access } from './access';

/** Who is calling: a user through a session, or an integrator through an API key. */
export interface Principal {
  kind: 'user' | 'apiKey';
  /** The user, or for an API key the user who created it (actions are attributed to the key). */
  userId: string;
  organizationId: string;
  sessionId?: string;
  apiKeyId?: string;
  access: Access;
}
