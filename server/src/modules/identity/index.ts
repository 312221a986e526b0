/**
 * What other modules use of identity: the permission catalogue, who is calling, the organization tree, users
 * and agent groups, the audit log and the team rules. Import identity through this file only
 * (tests/foundation/boundaries.test.ts).
 */
export { Permission, Role } from './permissions';
export type { Principal } from './principal';
export type { Access } from './access';
export { Organization, Workspace } from './organization.entity';
export { User, UserStatus } from './user.entity';
export { AgentGroup, AgentGroupMember } from './team.entity';
export { actorOf, audit, type Actor, type AuditInput } from './audit';
export { assertUserPrincipal } from './policy';
