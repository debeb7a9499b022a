import { GraphQLError, Kind, type ASTVisitor, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { isBlobLike } from '@clipwire/schema';

/**
 * Bounds on what an operation's inputs may hold, checked before anything is coerced or executed:
 * graphql-armor's cost limit counts the fields a document selects, not the size of its arguments,
 * so a 400,000-value list in a variable cost nothing there and everything later (coercion, the SQL
 * built from it). Inline lists are bounded by a validation rule, variables by a walk over the raw
 * JSON that stops at the first value over a limit.
 */
export const INPUT_LIMITS = {
  /** Values in any one list, inline or in variables (the longest legitimate list is a filter's 6 statuses). */
  listLength: 100,
  /** Values in an operation's variables, counted through every object and list. */
  variableValues: 1000,
  /** Nesting of objects and lists in variables (the deepest input is 4 levels). */
  variableDepth: 10,
} as const;

const badInput = (message: string) =>
  new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });

/** Why the raw variables are refused, or null. Runs in time bounded by the limits, whatever it is given. */
export function checkVariables(variables: unknown): GraphQLError | null {
  if (variables === undefined || variables === null) return null;
  if (typeof variables !== 'object' || Array.isArray(variables)) return badInput('variables must be an object');
  let count = 0;
  // Iterative, so that nesting cannot exhaust the stack before the depth check speaks.
  const stack: { value: unknown; path: string; depth: number }[] = [];
  for (const [name, value] of Object.entries(variables)) stack.push({ value, path: `$${name}`, depth: 1 });
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop()!;
    if (++count > INPUT_LIMITS.variableValues) {
      return badInput(`variables hold more than ${INPUT_LIMITS.variableValues} values`);
    }
    // An uploaded file (multipart) is one value, whatever its insides.
    if (value === null || typeof value !== 'object' || isBlobLike(value)) continue;
    if (depth > INPUT_LIMITS.variableDepth)
      return badInput(`${path}: nested deeper than ${INPUT_LIMITS.variableDepth} levels`);
    if (Array.isArray(value)) {
      if (value.length > INPUT_LIMITS.listLength) {
        return badInput(`${path}: a list of ${value.length} values is over the limit of ${INPUT_LIMITS.listLength}`);
      }
      value.forEach((item, i) => stack.push({ value: item, path: `${path}[${i}]`, depth: depth + 1 }));
    } else {
      for (const [key, item] of Object.entries(value))
        stack.push({ value: item, path: `${path}.${key}`, depth: depth + 1 });
    }
  }
  return null;
}

/** Inline list literals are bounded like lists in variables. */
export function MaxListLengthRule(context: ValidationContext): ASTVisitor {
  return {
    [Kind.LIST](node) {
      if (node.values.length > INPUT_LIMITS.listLength) {
        context.reportError(
          new GraphQLError(`a list of ${node.values.length} values is over the limit of ${INPUT_LIMITS.listLength}`, {
            nodes: node,
          }),
        );
      }
    },
  };
}

/**
 * The input limits on HTTP (variables checked on the request's params, before parsing) and, through
 * the validation rule, on every transport. The WebSocket path calls checkVariables itself.
 */
export function useInputLimits(): Plugin {
  return {
    onParams({ params }) {
      const error = checkVariables(params.variables);
      if (error) throw error;
    },
    onValidate({ addValidationRule }) {
      addValidationRule(MaxListLengthRule);
    },
  };
}
