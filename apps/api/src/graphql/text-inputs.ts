/*
 * Text the database cannot store (see text.ts) is refused at the boundary, for every string argument
 * of every field. Without this, such a string reached an INSERT and came back as "Unexpected error.".
 *
 * A field whose result can be a ValidationError (the mutations with input errors) answers one; any other field
 * answers a BAD_USER_INPUT error. Either way the issue names the field and nothing runs.
 */
import SchemaBuilder, { BasePlugin, type PothosOutputFieldConfig, type SchemaTypes } from '@pothos/core';
import { getNamedType, GraphQLError, isUnionType, type GraphQLFieldResolver, type GraphQLResolveInfo } from 'graphql';
import { ValidationError, type FieldIssue } from '../errors.js';
import { textProblem } from '../text.js';
import { isBlobLike } from '@clipwire/schema';

/** The first string in `value` (args, input objects, lists) that cannot be stored. */
export function findTextIssue(value: unknown, path: string[]): FieldIssue | null {
  if (typeof value === 'string') {
    const problem = textProblem(value);
    return problem ? { path, message: `${path.at(-1) ?? 'input'} ${problem}` } : null;
  }
  if (value === null || typeof value !== 'object' || isBlobLike(value) || value instanceof Date) return null;
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
  for (const [key, item] of entries) {
    const issue = findTextIssue(item, [...path, key]);
    if (issue) return issue;
  }
  return null;
}

/** A ValidationError where the field's result can be one (plugin-errors turns it into the result), else BAD_USER_INPUT. */
function refusal(issue: FieldIssue, info: GraphQLResolveInfo): never {
  const type = getNamedType(info.returnType);
  if (isUnionType(type) && info.schema.getPossibleTypes(type).some((t) => t.name === 'ValidationError')) {
    throw new ValidationError([issue]);
  }
  const message = `${issue.path.join('.')}: ${issue.message}`;
  throw new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', issues: [issue] } });
}

export class TextInputsPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override wrapResolve(
    resolver: GraphQLFieldResolver<unknown, Types['Context'], object>,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types['Context'], object> {
    if (Object.keys(fieldConfig.args).length === 0) return resolver;
    return (parent, args, context, info) => {
      const issue = findTextIssue(args, []);
      return issue ? refusal(issue, info) : resolver(parent, args, context, info);
    };
  }

  override wrapSubscribe(
    subscribe: GraphQLFieldResolver<unknown, Types['Context'], object> | undefined,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types['Context'], object> | undefined {
    if (!subscribe || Object.keys(fieldConfig.args).length === 0) return subscribe;
    return (parent, args, context, info) => {
      const issue = findTextIssue(args, []);
      return issue ? refusal(issue, info) : subscribe(parent, args, context, info);
    };
  }
}

const pluginName = 'textInputs';

declare global {
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      textInputs: TextInputsPlugin<Types>;
    }
  }
}

SchemaBuilder.registerPlugin(pluginName, TextInputsPlugin);

export default pluginName;
