/**
 * Validation rules that refuse queries too deep or too costly before anything runs.
 *
 * Depth: nesting of field selections (fragments expanded; introspection excluded).
 * Cost: every field costs 1, and a list field multiplies what is selected under it by the most
 * items it can return — its `limit` or `k` argument (a variable counts as the largest value
 * the argument allows, since validation runs once per query text, before variables are known),
 * else its declared default, else a nominal size. So `datasets { images(limit: 500) { items {
 * url } } }` costs about 20 x 500 x 3; a query of a hundred aliased image pages is refused.
 */
import {
  GraphQLError,
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

function isIntrospection(field: FieldNode): boolean {
  return field.name.value.startsWith('__');
}

export function createQueryLimitRule(limits: QueryLimits): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = fragmentsOf(context);

    const depthOf = (selectionSet: SelectionSetNode, depth: number): number => {
      let deepest = depth;
      for (const field of fieldsOf(selectionSet, fragments)) {
        if (isIntrospection(field) || !field.selectionSet) continue;
        deepest = Math.max(deepest, depthOf(field.selectionSet, depth + 1));
        // Stop early: a hostile query can be exponentially large when expanded.
        if (deepest > limits.maxDepth) return deepest;
      }
      return deepest;
    };

    // `inherited`: the bound of a paged parent (images(limit) { items { ... } }) for the list under it.
    const costOf = (selectionSet: SelectionSetNode, parent: GraphQLOutputType | null | undefined, inherited?: number): number => {
      let total = 0;
      for (const field of fieldsOf(selectionSet, fragments)) {
        if (isIntrospection(field)) continue;
        const def = fieldDef(parent, field.name.value);
        let cost = 1;
        if (field.selectionSet) {
          const bound = boundOf(field, def, limits);
          const isList = def !== undefined && isListType(getNullableType(def.type));
          if (isList) cost += (bound ?? inherited ?? limits.defaultListSize) * costOf(field.selectionSet, def?.type);
          else cost += costOf(field.selectionSet, def?.type, bound);
        }
        total += cost;
        if (total > limits.maxCost) return total;
      }
      return total;
    };

    return {
      OperationDefinition(operation) {
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
