import { costLimitPlugin } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import {
  type ASTVisitor,
  type FragmentDefinitionNode,
  GraphQLError,
  Kind,
  NoSchemaIntrospectionCustomRule,
  type SelectionSetNode,
  type ValidationContext,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * Limits every operation must pass before any resolver runs. They are envelop parse/validate
 * plugins, so they apply over HTTP (yoga) and over WebSocket (our onSubscribe parses and validates
 * through the same envelop). In production, introspection is refused by a validation rule, on both
 * transports (yoga's useDisableIntrospection keys on the HTTP request, which a WebSocket operation
 * does not have); suggestions are hidden by the error policy (client-errors.ts).
 */
export const LIMITS = { depth: 6, aliases: 15, tokens: 2000, directives: 20, cost: 5000 } as const;

export function armorPlugins(production: boolean): Plugin[] {
  const plugins: Plugin[] = [
    maxTokensPlugin({ n: LIMITS.tokens }),
    // `__schema` is exempt from the depth limit (GraphiQL's introspection query is 15 deep) but not
    // unbounded: its own shape rule, below.
    maxDepthPlugin({ n: LIMITS.depth, flattenFragments: true, ignoreIntrospection: true }),
    maxAliasesPlugin({ n: LIMITS.aliases, allowList: [] }),
    maxDirectivesPlugin({ n: LIMITS.directives }),
    costLimitPlugin({
      maxCost: LIMITS.cost,
      objectCost: 2,
      scalarCost: 1,
      depthCostFactor: 1.5,
      ignoreIntrospection: true,
    }),
  ] as Plugin[];
  plugins.push({ onValidate: ({ addValidationRule }) => addValidationRule(introspectionShapeRule) });
  if (production)
    plugins.push({ onValidate: ({ addValidationRule }) => addValidationRule(NoSchemaIntrospectionCustomRule) });
  return plugins;
}

/** How deep an introspection selection may go, counted from `__schema` / `__type`. */
export const INTROSPECTION_MAX_DEPTH = 20;
/** Introspection's lists of members: one may not be selected inside another (types' fields' types' fields…). */
const MEMBER_LISTS = new Set(['fields', 'inputFields', 'enumValues', 'interfaces', 'possibleTypes']);

/**
 * The bound that replaces the depth limit inside introspection: at most INTROSPECTION_MAX_DEPTH
 * levels, and no list of members selected within another, which is how an introspection query's
 * answer grows exponentially. The standard introspection query (GraphiQL's) passes; fragments are
 * followed where they are spread.
 */
function introspectionShapeRule(context: ValidationContext): ASTVisitor {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of context.getDocument().definitions)
    if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const refuse = (why: string): true => {
    context.reportError(new GraphQLError(`Introspection query refused: ${why}.`));
    return true;
  };
  const walk = (set: SelectionSetNode, inside: boolean, depth: number, lists: number, seen: string[]): boolean => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        const enters = inside || name === '__schema' || name === '__type';
        const level = enters ? depth + 1 : 0;
        const nested = enters && MEMBER_LISTS.has(name) ? lists + 1 : lists;
        if (level > INTROSPECTION_MAX_DEPTH) return refuse(`deeper than ${INTROSPECTION_MAX_DEPTH} levels`);
        if (nested > 1) return refuse(`${name} selected within another list of members`);
        if (selection.selectionSet && walk(selection.selectionSet, enters, level, nested, seen)) return true;
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        if (walk(selection.selectionSet, inside, depth, lists, seen)) return true;
      } else {
        const fragment = fragments.get(selection.name.value);
        if (fragment && !seen.includes(fragment.name.value)) {
          if (walk(fragment.selectionSet, inside, depth, lists, [...seen, fragment.name.value])) return true;
        }
      }
    }
    return false;
  };
  return {
    OperationDefinition(node) {
      walk(node.selectionSet, false, 0, 0, []);
    },
  };
}
