import {
  GraphQLError,
  Kind,
  SchemaMetaFieldDef,
  TypeMetaFieldDef,
  TypeNameMetaFieldDef,
  getNamedType,
  isInterfaceType,
  isIntrospectionType,
  isObjectType,
  isListType,
  isNonNullType,
  type ASTVisitor,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationRule,
} from 'graphql';
import { ErrorCode } from '../shared/errors';
import { codedError } from './errors';
import { noNulLiteralsRule } from './input-guards';

/** Query-shape limits, pinned explicitly (not left to library defaults), applied alike over HTTP and graphql-ws. */
export const LIMITS = {
  maxDepth: 8,
  maxAliases: 15,
  maxDirectives: 50,
  maxTokens: 1000,
  maxPageSize: 100,
  maxCost: 10_000,
  /**
   * CPU-time budget for validating one document (all rules); over it, the document is refused. CPU time of
   * this process, not wall time: on a loaded machine the process is descheduled for longer than this, and an
   * ordinary document must never be refused for that (it was, under a load of 26 on two cores).
   */
  validationBudgetMs: 250,
  /** Credential-taking fields allow a single use per document (no alias-batched password guessing). */
  singleUseFields: ['login', 'acceptInvitation', 'signUp', 'changePassword', 'requestPasswordReset', 'resetPassword'] as readonly string[],
} as const;

/** CPU time this process has used, in ms (user and system). */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function tooComplex(message: string): GraphQLError {
  return codedError(ErrorCode.QUERY_TOO_COMPLEX, message);
}

/** What a selection set weighs: its cost and how many field levels it adds below where it is used. */
interface Measure {
  cost: number;
  depth: number;
}

class BudgetExceeded extends Error {}

/**
 * Measures selection sets with fragments inlined, in time linear in the document: each fragment is measured
 * once (memoised by name; its type condition fixes its meaning wherever it is spread), and a fragment met
 * again while it is being measured (a cycle, already an error of graphql's own rules) weighs nothing.
 * Every field counts, `__typename` and introspection fields included, and so does every spread.
 */
class Measurer {
  private readonly memo = new Map<string, Measure>();
  private readonly inProgress = new Set<string>();
  private steps = 0;

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly fragments: ReadonlyMap<string, FragmentDefinitionNode>,
    private readonly deadline: number,
  ) {}

  operation(op: OperationDefinitionNode): Measure {
    const root =
      op.operation === 'query'
        ? this.schema.getQueryType()
        : op.operation === 'mutation'
          ? this.schema.getMutationType()
          : this.schema.getSubscriptionType();
    return this.selectionSet(op.selectionSet, root ?? undefined);
  }

  private tick(): void {
    // The walk is linear, so this never trips on a document within maxTokens; it bounds the unforeseen.
    if ((++this.steps & 255) === 0 && cpuMs() > this.deadline) throw new BudgetExceeded();
  }

  private fragment(name: string): Measure {
    const known = this.memo.get(name);
    if (known) return known;
    const frag = this.fragments.get(name);
    if (!frag || this.inProgress.has(name)) return { cost: 0, depth: 0 };
    this.inProgress.add(name);
    const measured = this.selectionSet(frag.selectionSet, this.schema.getType(frag.typeCondition.name.value) ?? undefined);
    this.inProgress.delete(name);
    this.memo.set(name, measured);
    return measured;
  }

  private selectionSet(set: SelectionSetNode, parent: GraphQLNamedType | undefined): Measure {
    let cost = 0;
    let depth = 0;
    for (const sel of set.selections) {
      this.tick();
      if (sel.kind === Kind.FIELD) {
        const fieldDef = fieldDefOf(this.schema, parent, sel.name.value);
        const child = sel.selectionSet ? this.selectionSet(sel.selectionSet, fieldDef ? getNamedType(fieldDef.type) : undefined) : { cost: 0, depth: 0 };
        const multiplier = pageSizeOf(sel);
        cost += (1 + child.cost) * (isListish(fieldDef?.type) || multiplier > 1 ? multiplier : 1);
        // Introspection answers from the schema (finite); its nesting is its shape, not an attack, so it adds
        // cost but no depth (the standard introspection query nests ofType nine levels deep).
        const adds = parent && isIntrospectionType(parent) ? 0 : 1;
        depth = Math.max(depth, adds + child.depth);
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        const t = sel.typeCondition ? (this.schema.getType(sel.typeCondition.name.value) ?? undefined) : parent;
        const inner = this.selectionSet(sel.selectionSet, t);
        cost += 1 + inner.cost;
        depth = Math.max(depth, inner.depth);
      } else {
        const inner = this.fragment(sel.name.value);
        cost += 1 + inner.cost;
        depth = Math.max(depth, inner.depth);
      }
    }
    return { cost, depth };
  }
}

/** A field's definition, the meta fields (`__schema`, `__type`, `__typename`) included. */
function fieldDefOf(schema: GraphQLSchema, parent: GraphQLNamedType | undefined, name: string): GraphQLField<unknown, unknown> | undefined {
  if (name === TypeNameMetaFieldDef.name) return TypeNameMetaFieldDef;
  if (parent && parent === schema.getQueryType()) {
    if (name === SchemaMetaFieldDef.name) return SchemaMetaFieldDef;
    if (name === TypeMetaFieldDef.name) return TypeMetaFieldDef;
  }
  return isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[name] : undefined;
}

function isListish(type: GraphQLOutputType | undefined): boolean {
  if (!type) return false;
  const t = isNonNullType(type) ? type.ofType : type;
  return isListType(t);
}

/** The `first` (or `last`) argument, literal or variable, as the cost multiplier; 1 when absent. */
function pageSizeOf(field: FieldNode): number {
  for (const arg of field.arguments ?? []) {
    if (arg.name.value !== 'first' && arg.name.value !== 'last') continue;
    if (arg.value.kind === Kind.INT) return Math.max(1, Number(arg.value.value));
    // A variable: assume the maximum page size (validation runs before variables are known).
    if (arg.value.kind === Kind.VARIABLE) return LIMITS.maxPageSize;
  }
  return 1;
}

export const queryLimitsRule: ValidationRule = (ctx): ASTVisitor => {
  const deadline = cpuMs() + LIMITS.validationBudgetMs;
  const doc = ctx.getDocument();
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of doc.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  const measurer = new Measurer(ctx.getSchema(), fragments, deadline);
  let aliases = 0;
  let directives = 0;
  let overBudget = false;
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
      if (overBudget) return;
      let measured: Measure;
      try {
        measured = measurer.operation(op);
      } catch (err) {
        if (!(err instanceof BudgetExceeded)) throw err;
        overBudget = true;
        ctx.reportError(tooComplex(`Validating this document took over ${LIMITS.validationBudgetMs} ms`));
        return;
      }
      if (measured.depth > LIMITS.maxDepth) {
        ctx.reportError(tooComplex(`Query depth ${measured.depth} exceeds the limit of ${LIMITS.maxDepth}`));
      }
      if (measured.cost > LIMITS.maxCost) {
        ctx.reportError(tooComplex(`Query cost ${measured.cost} exceeds the limit of ${LIMITS.maxCost}`));
      }
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
        // All rules run in one traversal: by the time the document is left, this is the whole validation's time.
        if (!overBudget && cpuMs() > deadline) {
          ctx.reportError(tooComplex(`Validating this document took over ${LIMITS.validationBudgetMs} ms`));
        }
      },
    },
  };
};

/** Our rules beside graphql's own, run by Apollo (HTTP) and by websocket.ts (graphql-ws) alike. */
export const VALIDATION_RULES: readonly ValidationRule[] = [queryLimitsRule, noNulLiteralsRule];
