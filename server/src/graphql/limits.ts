import {
  GraphQLError,
  Kind,
  getNamedType,
  isListType,
  isNonNullType,
  type ASTVisitor,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLOutputType,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { ErrorCode } from './errors';

/** Query-shape limits, pinned explicitly (SECURITY.md), applied alike over HTTP and graphql-ws. */
export const LIMITS = {
  maxDepth: 8,
  maxAliases: 15,
  maxDirectives: 50,
  maxTokens: 1000,
  maxPageSize: 100,
  maxCost: 10_000,
  /** Credential-taking fields allow a single use per document (no alias-batched password guessing). */
  singleUseFields: ['login', 'acceptInvitation', 'signUp', 'changePassword', 'requestPasswordReset', 'resetPassword'] as readonly string[],
} as const;

function tooComplex(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.QUERY_TOO_COMPLEX } });
}

/**
 * Walks each operation with fragments inlined (a fragment cycle is already an error of graphql's own
 * rules; the visited set guards us anyway), measuring depth and a cost that multiplies by `first`.
 */
function measure(
  ctx: ValidationContext,
  op: OperationDefinitionNode,
  fragments: Map<string, FragmentDefinitionNode>,
): { depth: number; cost: number } {
  const schema = ctx.getSchema();
  let maxDepth = 0;
  const walk = (set: SelectionSetNode, parentType: GraphQLOutputType | null, depth: number, seen: Set<string>): number => {
    let cost = 0;
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        if (sel.name.value.startsWith('__')) continue;
        const d = depth + 1;
        if (d > maxDepth) maxDepth = d;
        const named = parentType ? getNamedType(parentType) : null;
        const fieldDef = named && 'getFields' in named ? named.getFields()[sel.name.value] : undefined;
        const multiplier = pageSizeOf(sel, ctx);
        let fieldCost = 1;
        if (sel.selectionSet) fieldCost += walk(sel.selectionSet, fieldDef?.type ?? null, d, seen);
        cost += fieldCost * (isListish(fieldDef?.type) || multiplier > 1 ? multiplier : 1);
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        const t = sel.typeCondition ? (schema.getType(sel.typeCondition.name.value) as GraphQLOutputType) : parentType;
        cost += walk(sel.selectionSet, t ?? parentType, depth, seen);
      } else {
        const name = sel.name.value;
        const frag = fragments.get(name);
        if (!frag || seen.has(name)) continue;
        const t = schema.getType(frag.typeCondition.name.value) as GraphQLOutputType | undefined;
        cost += walk(frag.selectionSet, t ?? parentType, depth, new Set([...seen, name]));
      }
    }
    return cost;
  };
  const root =
    op.operation === 'query' ? schema.getQueryType() : op.operation === 'mutation' ? schema.getMutationType() : schema.getSubscriptionType();
  const cost = walk(op.selectionSet, root ?? null, 0, new Set());
  return { depth: maxDepth, cost };
}

function isListish(type: GraphQLOutputType | undefined): boolean {
  if (!type) return false;
  const t = isNonNullType(type) ? type.ofType : type;
  return isListType(t);
}

/** The `first` (or `last`) argument, literal or variable, as the cost multiplier; 1 when absent. */
function pageSizeOf(field: FieldNode, ctx: ValidationContext): number {
  for (const arg of field.arguments ?? []) {
    if (arg.name.value !== 'first' && arg.name.value !== 'last') continue;
    if (arg.value.kind === Kind.INT) return Math.max(1, Number(arg.value.value));
    // A variable: assume the maximum page size (validation runs before variables are known).
    if (arg.value.kind === Kind.VARIABLE) return LIMITS.maxPageSize;
  }
  void ctx;
  return 1;
}

export const queryLimitsRule: ValidationRule = (ctx): ASTVisitor => {
  const doc = ctx.getDocument();
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of doc.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  let aliases = 0;
  let directives = 0;
  const singleUse = new Map<string, number>();
  return {
    Field(node) {
      if (node.alias) aliases++;
      if (LIMITS.singleUseFields.includes(node.name.value)) {
        singleUse.set(node.name.value, (singleUse.get(node.name.value) ?? 0) + 1);
      }
    },
    Directive() {
      directives++;
    },
    OperationDefinition(op) {
      const { depth, cost } = measure(ctx, op, fragments);
      if (depth > LIMITS.maxDepth) ctx.reportError(tooComplex(`Query depth ${depth} exceeds the limit of ${LIMITS.maxDepth}`));
      if (cost > LIMITS.maxCost) ctx.reportError(tooComplex(`Query cost ${cost} exceeds the limit of ${LIMITS.maxCost}`));
    },
    Document: {
      leave() {
        if (aliases > LIMITS.maxAliases) ctx.reportError(tooComplex(`${aliases} aliases exceed the limit of ${LIMITS.maxAliases}`));
        if (directives > LIMITS.maxDirectives) {
          ctx.reportError(tooComplex(`${directives} directives exceed the limit of ${LIMITS.maxDirectives}`));
        }
        for (const [field, n] of singleUse) {
          if (n > 1) ctx.reportError(tooComplex(`${field} may appear once per request`));
        }
      },
    },
  };
};

export const VALIDATION_RULES: readonly ValidationRule[] = [queryLimitsRule];
