/**
 * Validation rules that refuse queries too deep or too costly before anything runs.
 *
 * Depth: nesting of field selections (fragments expanded; introspection excluded).
 * Cost: every field costs 1, and a list field multiplies what is selected under it by the most
 * items it can return — its `limit` or `k` argument (a variable counts as the largest value
 * the argument allows, since validation runs once per query text, before variables are known),
 * else its declared default, else a nominal size. So `datasets { images(limit: 500) { items {
 * url } } }` costs about 20 x 500 x 3; a query of a hundred aliased image pages is refused.
 * `__typename` costs 1 like any field, so a query of 100,000 of them is refused too.
 *
 * Introspection (`__schema`, `__type`) has a budget of its own, since the standard introspection
 * query that tools send costs more than any data query may: its lists (types, fields, args,
 * ...) count as the most items they hold in this schema. graphql-js already limits how deep
 * introspection lists nest; this limits how many of them one query asks for (aliases), which
 * it does not: each alias walking the schema costs the event loop milliseconds.
 */
import {
  GraphQLError,
  SchemaMetaFieldDef,
  TypeMetaFieldDef,
  isAbstractType,
  isEnumType,
  isInputObjectType,
  getNamedType,
  getNullableType,
  isListType,
  isObjectType,
  isInterfaceType,
  Kind,
  type ASTVisitor,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLOutputType,
  type GraphQLInterfaceType,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

export interface QueryLimits {
  readonly maxDepth: number;
  readonly maxCost: number;
  /** The largest value of each bounded list argument (k, limit). */
  readonly argumentMaxima: Readonly<Record<string, number>>;
  /** Assumed size of lists without a bounding argument (datasets, layers, errors). */
  readonly defaultListSize: number;
  /** Budget of the introspection part of a query, counted the same way. */
  readonly maxIntrospectionCost: number;
}

const introspectionSizes = new WeakMap<GraphQLSchema, Readonly<Record<string, number>>>();

/** The most items each introspection list field can return in this schema. */
function introspectionListSizes(schema: GraphQLSchema): Readonly<Record<string, number>> {
  let sizes = introspectionSizes.get(schema);
  if (sizes) return sizes;
  const types = Object.values(schema.getTypeMap());
  const most = (counts: number[]): number => Math.max(1, ...counts);
  const withFields = types.filter((type): type is GraphQLObjectType | GraphQLInterfaceType => isObjectType(type) || isInterfaceType(type));
  sizes = {
    types: types.length,
    fields: most(withFields.map((type) => Object.keys(type.getFields()).length)),
    args: most([...withFields.flatMap((type) => Object.values(type.getFields()).map((field) => field.args.length)), ...schema.getDirectives().map((d) => d.args.length)]),
    interfaces: most(withFields.map((type) => type.getInterfaces().length)),
    possibleTypes: most(types.map((type) => (isAbstractType(type) ? schema.getPossibleTypes(type).length : 0))),
    enumValues: most(types.map((type) => (isEnumType(type) ? type.getValues().length : 0))),
    inputFields: most(types.map((type) => (isInputObjectType(type) ? Object.keys(type.getFields()).length : 0))),
    directives: schema.getDirectives().length,
  };
  introspectionSizes.set(schema, sizes);
  return sizes;
}

function fragmentsOf(context: ValidationContext): Map<string, FragmentDefinitionNode> {
  const map = new Map<string, FragmentDefinitionNode>();
  for (const definition of context.getDocument().definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) map.set(definition.name.value, definition);
  }
  return map;
}

/** The fields selected, fragments expanded (a fragment cycle is another rule's error). */
function fieldsOf(selectionSet: SelectionSetNode, fragments: Map<string, FragmentDefinitionNode>, seen = new Set<string>()): FieldNode[] {
  const fields: FieldNode[] = [];
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) fields.push(selection);
    else if (selection.kind === Kind.INLINE_FRAGMENT) fields.push(...fieldsOf(selection.selectionSet, fragments, seen));
    else {
      const name = selection.name.value;
      const fragment = fragments.get(name);
      if (!fragment || seen.has(name)) continue;
      fields.push(...fieldsOf(fragment.selectionSet, fragments, new Set([...seen, name])));
    }
  }
  return fields;
}

function rootType(context: ValidationContext, operation: OperationDefinitionNode) {
  const schema = context.getSchema();
  return operation.operation === 'mutation' ? schema.getMutationType() : operation.operation === 'subscription' ? schema.getSubscriptionType() : schema.getQueryType();
}

function fieldDef(type: GraphQLOutputType | null | undefined, name: string): GraphQLField<unknown, unknown> | undefined {
  const named = type ? getNamedType(type) : undefined;
  return named && (isObjectType(named) || isInterfaceType(named)) ? named.getFields()[name] : undefined;
}

/**
 * The most items a field's `limit` or `k` argument lets it return: its literal value (capped),
 * the argument's maximum when it is a variable (validation sees the query text only), its
 * declared default when absent; undefined when the field takes no such argument.
 */
function boundOf(field: FieldNode, def: GraphQLField<unknown, unknown> | undefined, limits: QueryLimits): number | undefined {
  for (const name of Object.keys(limits.argumentMaxima)) {
    const max = limits.argumentMaxima[name] as number;
    const argument = field.arguments?.find((arg) => arg.name.value === name);
    if (argument) return argument.value.kind === Kind.INT ? Math.max(0, Math.min(Number(argument.value.value), max)) : max;
    const declared = def?.args.find((arg) => arg.name === name);
    if (declared) return typeof declared.defaultValue === 'number' ? Math.min(declared.defaultValue, max) : max;
  }
  return undefined;
}

/** `__schema` and `__type`, whose answers describe the schema; `__typename` is an ordinary leaf. */
function isIntrospection(field: FieldNode): boolean {
  return field.name.value === '__schema' || field.name.value === '__type';
}

export function createQueryLimitRule(limits: QueryLimits): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = fragmentsOf(context);

    const depthOf = (selectionSet: SelectionSetNode, depth: number): number => {
      // Checked on the way in: a fragment that spreads itself (another rule's error) is endless.
      if (depth > limits.maxDepth) return depth;
      let deepest = depth;
      for (const field of fieldsOf(selectionSet, fragments)) {
        if (isIntrospection(field) || !field.selectionSet) continue;
        deepest = Math.max(deepest, depthOf(field.selectionSet, depth + 1));
        // Stop early: a hostile query can be exponentially large when expanded.
        if (deepest > limits.maxDepth) return deepest;
      }
      return deepest;
    };

    const sizes = introspectionListSizes(context.getSchema());
    let introspectionCost = 0;

    // `inherited`: the bound of a paged parent (images(limit) { items { ... } }) for the list under it.
    // `inside`: within __schema or __type, whose lists are bounded by the schema's own sizes.
    const costOf = (selectionSet: SelectionSetNode, parent: GraphQLOutputType | null | undefined, inherited?: number, inside = false): number => {
      let total = 0;
      const max = inside ? limits.maxIntrospectionCost : limits.maxCost;
      for (const field of fieldsOf(selectionSet, fragments)) {
        if (!inside && isIntrospection(field)) {
          const meta = field.name.value === '__schema' ? SchemaMetaFieldDef : TypeMetaFieldDef;
          if (introspectionCost <= limits.maxIntrospectionCost) introspectionCost += 1 + (field.selectionSet ? costOf(field.selectionSet, meta.type, undefined, true) : 0);
          continue;
        }
        const def = fieldDef(parent, field.name.value);
        let cost = 1;
        if (field.selectionSet) {
          const bound = inside ? sizes[field.name.value] : boundOf(field, def, limits);
          const isList = def !== undefined && isListType(getNullableType(def.type));
          if (isList) cost += (bound ?? inherited ?? limits.defaultListSize) * costOf(field.selectionSet, def?.type, undefined, inside);
          else cost += costOf(field.selectionSet, def?.type, inside ? undefined : bound, inside);
        }
        total += cost;
        if (total > max) return total;
      }
      return total;
    };

    return {
      OperationDefinition(operation) {
        introspectionCost = 0;
        const depth = depthOf(operation.selectionSet, 1);
        if (depth > limits.maxDepth) {
          context.reportError(
            new GraphQLError(`query is nested more than ${limits.maxDepth} levels deep; at most ${limits.maxDepth} are allowed`, {
              nodes: [operation],
              extensions: { code: 'QUERY_TOO_DEEP', maxDepth: limits.maxDepth, http: { status: 400 } },
            }),
          );
          return;
        }
        const cost = costOf(operation.selectionSet, rootType(context, operation));
        if (introspectionCost > limits.maxIntrospectionCost) {
          context.reportError(
            new GraphQLError(
              `introspection costs more than ${limits.maxIntrospectionCost} (its lists of types, fields and arguments multiply when nested); ask for what the standard introspection query asks`,
              { nodes: [operation], extensions: { code: 'QUERY_TOO_COMPLEX', maxCost: limits.maxIntrospectionCost, http: { status: 400 } } },
            ),
          );
          return;
        }
        if (cost > limits.maxCost) {
          context.reportError(
            new GraphQLError(
              `query costs more than ${limits.maxCost} (each field counts once per item the lists above it can return); ask for fewer fields, a smaller limit or k, or fewer aliases`,
              { nodes: [operation], extensions: { code: 'QUERY_TOO_COMPLEX', maxCost: limits.maxCost, http: { status: 400 } } },
            ),
          );
        }
      },
    };
  };
}
