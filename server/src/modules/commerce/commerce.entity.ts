import { BigIntType, Entity, Enum, Index, ManyToOne, Property, Unique, type Ref } from '@mikro-orm/core';
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLSafeInt } from 'graphql-scalars';
import { TenantEntity } from '../../db/base.entity';
import { TenantScoped } from '../../db/tenant';
import { Auth } from '../../graphql/auth';
import { Permission } from '../identity';
import type { Workspace } from '../identity';

/** DRAFT -> PLACED -> PAID -> FULFILLED; PLACED -> REJECTED (a payment refused) -> PLACED (reopened); CANCELLED. */
export enum OrderStatus {
  DRAFT = 'DRAFT',
  PLACED = 'PLACED',
  REJECTED = 'REJECTED',
  PAID = 'PAID',
  FULFILLED = 'FULFILLED',
  CANCELLED = 'CANCELLED',
}
registerEnumType(OrderStatus, {
  name: 'OrderStatus',
  description: 'DRAFT -> PLACED -> PAID -> FULFILLED; a rejected payment makes a PLACED order REJECTED until it is reopened; CANCELLED ends it.',
});

export enum PaymentStatus {
  PENDING = 'PENDING',
  RECONCILED = 'RECONCILED',
  REJECTED = 'REJECTED',
}
registerEnumType(PaymentStatus, { name: 'PaymentStatus', description: 'Recorded (PENDING), then RECONCILED or REJECTED by a reconciler.' });

/** An amount column: bigint in Postgres, a safe integer of minor units in JS (money.ts). A fresh object each time (the ORM keeps it). */
const amount = () => ({ type: new BigIntType('number'), default: 0 });

/** A product of the workspace's catalogue (not the inbox "catalogue" of tags and templates). */
@ObjectType({ description: 'A product of the workspace: price in integer minor units of an ISO 4217 currency.' })
@Auth(Permission.ORDERS_READ)
@TenantScoped()
@Entity({ tableName: 'products' })
@Unique({ properties: ['organization', 'workspace', 'sku'] })
@Index({ properties: ['organization', 'workspace', 'createdAt', 'id'] })
export class Product extends TenantEntity<'workspaceId' | 'description' | 'active' | 'imageUrl' | 'updatedAt'> {
  @Field(() => ID)
  declare id: string;

  @ManyToOne('Workspace', { ref: true, deleteRule: 'cascade', index: false })
  workspace!: Ref<Workspace>;

  @Field()
  @Property({ length: 64 })
  sku!: string;

  @Field()
  @Property({ length: 200 })
  name!: string;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  description: string | null = null;

  @Field(() => GraphQLSafeInt, { description: 'Price in minor units of `currency` (cents for USD).' })
  @Property({ type: new BigIntType('number') })
  priceAmount!: number;

  @Field({ description: 'ISO 4217 code.' })
  @Property({ length: 3 })
  currency!: string;

  @Field({ description: 'Inactive products cannot be sent or ordered.' })
  @Property({ default: true })
  active: boolean = true;

  @Field(() => String, { nullable: true })
  @Property({ length: 2000, nullable: true })
  imageUrl: string | null = null;

  @Field(() => Date)
  declare createdAt: Date;

  @Field(() => Date)
  @Property({ type: 'timestamptz', defaultRaw: 'now()', onUpdate: () => new Date() })
  updatedAt: Date = new Date();

  @Field(() => ID)
  get workspaceId(): string {
    return this.workspace.id;
  }
}

/** A catalogue message sent in a thread, and which products it carried. */
@ObjectType({ description: 'A catalogue sent in a thread: the message and the products it listed.' })
@Auth(Permission.ORDERS_READ)
@TenantScoped()
@Entity({ tableName: 'catalog_sends' })
@Unique({ properties: ['organization', 'messageId'] })
@Index({ properties: ['organization', 'threadId', 'createdAt'] })
export class CatalogSend extends TenantEntity<'workspaceId'> {
  @Field(() => ID)
  declare id: string;

  @ManyToOne('Workspace', { ref: true, deleteRule: 'cascade', index: false })
  workspace!: Ref<Workspace>;

  @Field(() => ID)
  @Property({ type: 'uuid' })
  threadId!: string;

  @Field(() => ID)
  @Property({ type: 'uuid' })
  messageId!: string;

  @Field(() => [ID])
  @Property({ type: 'uuid[]' })
  productIds!: string[];

  @Field(() => ID)
  @Property({ type: 'uuid' })
  sentById!: string;

  @Field(() => Date)
  declare createdAt: Date;

  @Field(() => ID)
  get workspaceId(): string {
    return this.workspace.id;
  }
}

/** The currency a workspace sells in (orders take it when created). No row: USD. */
@TenantScoped()
@Entity({ tableName: 'commerce_settings' })
@Unique({ properties: ['organization', 'workspace'] })
export class CommerceSettings extends TenantEntity {
  @ManyToOne('Workspace', { ref: true, deleteRule: 'cascade', index: false })
  workspace!: Ref<Workspace>;

  @Property({ length: 3 })
  currency!: string;
}

/** An order: from a thread (its contact and thread linked) or independent. Totals are computed here, never taken from input. */
@ObjectType({ description: 'An order, from a conversation or independent. Amounts in minor units of `currency`.' })
@Auth(Permission.ORDERS_READ)
@TenantScoped()
@Entity({ tableName: 'orders' })
@Index({ properties: ['organization', 'workspace', 'createdAt', 'id'] })
@Index({ properties: ['organization', 'threadId'] })
@Index({ properties: ['organization', 'workspace', 'createdById', 'createdAt'] })
@Unique({ name: 'orders_creator_idempotency_key_unique', properties: ['organization', 'createdById', 'idempotencyKey'] })
export class Order extends TenantEntity<
  'workspaceId' | 'status' | 'threadId' | 'contactId' | 'customerName' | 'totalAmount' | 'paidAmount' | 'idempotencyKey' | 'placedAt' | 'paidAt' | 'fulfilledAt' | 'cancelledAt' | 'deletedAt' | 'rejectedPaymentId' | 'updatedAt' | 'balanceAmount'
> {
  @Field(() => ID)
  declare id: string;

  @ManyToOne('Workspace', { ref: true, deleteRule: 'cascade', index: false })
  workspace!: Ref<Workspace>;

  @Field(() => OrderStatus)
  @Enum({ items: () => OrderStatus, nativeEnumName: 'order_status' })
  status: OrderStatus = OrderStatus.DRAFT;

  @Field(() => ID, { nullable: true, description: 'The conversation it was created from; null for an independent order.' })
  @Property({ type: 'uuid', nullable: true })
  threadId: string | null = null;

  @Field(() => ID, { nullable: true })
  @Property({ type: 'uuid', nullable: true })
  contactId: string | null = null;

  @Field(() => String, { nullable: true, description: "The customer's name as it was when the order was made." })
  @Property({ length: 200, nullable: true })
  customerName: string | null = null;

  @Field({ description: 'ISO 4217 code: the workspace currency when the order was made.' })
  @Property({ length: 3 })
  currency!: string;

  @Field(() => GraphQLSafeInt, { description: 'Sum of quantity x unit price over the lines, computed by the server.' })
  @Property(amount())
  totalAmount: number = 0;

  @Field(() => GraphQLSafeInt, { description: 'Sum of reconciled payments.' })
  @Property(amount())
  paidAmount: number = 0;

  @Field(() => ID)
  @Property({ type: 'uuid' })
  createdById!: string;

  @Property({ length: 200, nullable: true })
  idempotencyKey: string | null = null;

  /** The payment whose rejection made the order REJECTED: reopening puts it back to PENDING. */
  @Property({ type: 'uuid', nullable: true })
  rejectedPaymentId: string | null = null;

  @Field(() => Date)
  declare createdAt: Date;

  @Field(() => Date)
  @Property({ type: 'timestamptz', defaultRaw: 'now()', onUpdate: () => new Date() })
  updatedAt: Date = new Date();

  @Field(() => Date, { nullable: true })
  @Property({ type: 'timestamptz', nullable: true })
  placedAt: Date | null = null;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'timestamptz', nullable: true })
  paidAt: Date | null = null;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'timestamptz', nullable: true })
  fulfilledAt: Date | null = null;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'timestamptz', nullable: true })
  cancelledAt: Date | null = null;

  /** Soft delete: the row stays (payments, audit) but no list or lookup shows it. */
  @Property({ type: 'timestamptz', nullable: true })
  deletedAt: Date | null = null;

  @Field(() => GraphQLSafeInt, { description: 'What is still to be paid: total minus reconciled payments.' })
  get balanceAmount(): number {
    return this.totalAmount - this.paidAmount;
  }

  @Field(() => ID)
  get workspaceId(): string {
    return this.workspace.id;
  }
}

/** One line: a product (its name and price copied at ordering time) or free text. */
@ObjectType({ description: 'An order line: a product or free text, quantity and unit price (minor units).' })
@Auth(Permission.ORDERS_READ)
@TenantScoped()
@Entity({ tableName: 'order_lines' })
@Index({ properties: ['organization', 'order', 'position'] })
export class OrderLine extends TenantEntity<'workspaceId' | 'productId' | 'lineAmount'> {
  @Field(() => ID)
  declare id: string;

  @ManyToOne('Workspace', { ref: true, deleteRule: 'cascade', index: false })
  workspace!: Ref<Workspace>;

  @ManyToOne(() => Order, { ref: true, deleteRule: 'cascade', index: false })
  order!: Ref<Order>;

  @Property({ type: 'integer' })
  position!: number;

  @Field(() => ID, { nullable: true })
  @Property({ type: 'uuid', nullable: true })
  productId: string | null = null;

  @Field()
  @Property({ length: 500 })
  description!: string;

  @Field(() => Int)
  @Property({ type: 'integer' })
  quantity!: number;

  @Field(() => GraphQLSafeInt)
  @Property({ type: new BigIntType('number') })
  unitAmount!: number;

  @Field(() => GraphQLSafeInt)
  get lineAmount(): number {
    return this.quantity * this.unitAmount;
  }

  @Field(() => ID)
  get workspaceId(): string {
    return this.workspace.id;
  }
}

/** A comment on an order (order admins, reconcilers, agents on their orders). */
@ObjectType({ description: 'A comment on an order.' })
@Auth(Permission.ORDERS_READ)
@TenantScoped()
@Entity({ tableName: 'order_comments' })
@Index({ properties: ['organization', 'order', 'createdAt'] })
export class OrderComment extends TenantEntity<'workspaceId' | 'orderId'> {
  @Field(() => ID)
  declare id: string;

  @ManyToOne('Workspace', { ref: true, deleteRule: 'cascade', index: false })
  workspace!: Ref<Workspace>;

  @ManyToOne(() => Order, { ref: true, deleteRule: 'cascade', index: false })
  order!: Ref<Order>;

  @Field(() => ID)
  @Property({ type: 'uuid' })
  authorId!: string;

  @Field()
  @Property({ type: 'text' })
  body!: string;

  @Field(() => Date)
  declare createdAt: Date;

  @Field(() => ID)
  get orderId(): string {
    return this.order.id;
  }

  @Field(() => ID)
  get workspaceId(): string {
    return this.workspace.id;
  }
}

/** A payment recorded against an order; it counts once a reconciler reconciles it. */
@ObjectType({ description: 'A payment recorded against an order: PENDING until reconciled or rejected.' })
@Auth(Permission.ORDERS_READ)
@TenantScoped()
@Entity({ tableName: 'payments' })
@Index({ properties: ['organization', 'order', 'createdAt'] })
@Unique({ name: 'payments_recorder_idempotency_key_unique', properties: ['organization', 'recordedById', 'idempotencyKey'] })
export class Payment extends TenantEntity<
  'workspaceId' | 'orderId' | 'status' | 'externalReference' | 'proofUrl' | 'idempotencyKey' | 'rejectionReason' | 'decidedById' | 'decidedAt'
> {
  @Field(() => ID)
  declare id: string;

  @ManyToOne('Workspace', { ref: true, deleteRule: 'cascade', index: false })
  workspace!: Ref<Workspace>;

  @ManyToOne(() => Order, { ref: true, deleteRule: 'cascade', index: false })
  order!: Ref<Order>;

  @Field(() => GraphQLSafeInt, { description: 'Minor units of the order currency.' })
  @Property({ type: new BigIntType('number') })
  amount!: number;

  @Field({ description: 'How it was paid (bank transfer, card, cash...).' })
  @Property({ length: 50 })
  method!: string;

  @Field(() => String, { nullable: true, description: "The bank's or processor's reference." })
  @Property({ length: 200, nullable: true })
  externalReference: string | null = null;

  @Field(() => String, { nullable: true, description: 'Where the proof of payment (a receipt image) is.' })
  @Property({ length: 2000, nullable: true })
  proofUrl: string | null = null;

  @Field(() => PaymentStatus)
  @Enum({ items: () => PaymentStatus, nativeEnumName: 'payment_status' })
  status: PaymentStatus = PaymentStatus.PENDING;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  rejectionReason: string | null = null;

  @Field(() => ID)
  @Property({ type: 'uuid' })
  recordedById!: string;

  @Field(() => ID, { nullable: true, description: 'Who reconciled or rejected it.' })
  @Property({ type: 'uuid', nullable: true })
  decidedById: string | null = null;

  @Field(() => Date, { nullable: true })
  @Property({ type: 'timestamptz', nullable: true })
  decidedAt: Date | null = null;

  @Property({ length: 200, nullable: true })
  idempotencyKey: string | null = null;

  @Field(() => Date)
  declare createdAt: Date;

  @Field(() => ID)
  get orderId(): string {
    return this.order.id;
  }

  @Field(() => ID)
  get workspaceId(): string {
    return this.workspace.id;
  }
}
