import { costLimitPlugin } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { NoSchemaIntrospectionCustomRule } from 'graphql';
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
    maxDepthPlugin({ n: LIMITS.depth, flattenFragments: true, ignoreIntrospection: false }),
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
  if (production)
    plugins.push({ onValidate: ({ addValidationRule }) => addValidationRule(NoSchemaIntrospectionCustomRule) });
  return plugins;
}
