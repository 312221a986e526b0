import { Entity, Index, Property } from '@mikro-orm/core';
import { Field, ID, ObjectType } from 'type-graphql';
import { TenantEntity } from '../../db/base.entity';
import { TenantScoped } from '../../db/tenant';
import { Auth } from '../../graphql/auth';
import { Permission } from '../identity';

/**
 * One read of something sensitive (a thread's messages, a contact's details, a report): who, what, when and
 * from which session. Written in batches by ReadAuditRecorder, never inside the read's own request.
 */
@ObjectType({ description: 'Who read what, when, and from which session.' })
@Auth(Permission.AUDIT_LOG_READ)
@TenantScoped()
@Entity({ tableName: 'read_audit' })
@Index({ properties: ['organization', 'createdAt', 'id'] })
@Index({ properties: ['organization', 'workspaceId', 'createdAt', 'id'] })
@Index({ properties: ['organization', 'actorUserId', 'createdAt', 'id'] })
@Index({ properties: ['organization', 'targetId', 'createdAt', 'id'] })
export class ReadAuditEntry extends TenantEntity<'workspaceId' | 'actorUserId' | 'actorApiKeyId' | 'sessionId'> {
  @Field(() => ID)
  declare id: string;

  @Field(() => ID, { nullable: true })
  @Property({ type: 'uuid', nullable: true })
  workspaceId: string | null = null;

  @Field(() => ID, { nullable: true, description: 'The user reading (for an API key: the user who created it).' })
  @Property({ type: 'uuid', nullable: true })
  actorUserId: string | null = null;

  @Field(() => ID, { nullable: true })
  @Property({ type: 'uuid', nullable: true })
  actorApiKeyId: string | null = null;

  @Field(() => ID, { nullable: true, description: 'The session the read came from (null for API keys).' })
  @Property({ type: 'uuid', nullable: true })
  sessionId: string | null = null;

  @Field({ description: 'thread.messages, contact.read, report.conversations, report.usage, report.organizationUsage, report.payments, report.organizationConversations, export.start, export.download' })
  @Property({ length: 40 })
  action!: string;

  @Field()
  @Property({ length: 40 })
  targetType!: string;

  @Field(() => ID)
  @Property({ type: 'uuid' })
  targetId!: string;

  @Field(() => Date)
  declare createdAt: Date;
}
