import { GraphQLError } from 'graphql';
import { maskError, type Plugin } from 'graphql-yoga';

/**
 * What a client may see of an error, the same on every transport and in every mode a server runs in:
 * - an error the code did not mean to show (anything but a GraphQLError) is "Unexpected error." —
 *   never its message, SQL or stack, which go to the log (yoga logs the original);
 * - in production, no "Did you mean …?" from any phase (validation, variable coercion, enum values):
 *   suggestions spell out the schema that introspection is refused for.
 */
const SUGGESTION = /\s*Did you mean [^?]*\?/g;

export interface ClientErrorPolicy {
  /** yoga's `maskedErrors` option. */
  maskedErrors: { maskError: (error: unknown, message: string) => Error; isDev: false };
  /** Masks one GraphQLError for the client (WebSocket delivery, graphql-ws hooks). */
  mask(error: GraphQLError): GraphQLError;
  /** Plugin hiding suggestions in validation errors (both transports validate through the envelop). */
  plugin: Plugin;
}

export function clientErrorPolicy(opts: {
  production: boolean;
  onMasked: (error: unknown) => void;
}): ClientErrorPolicy {
  const hide = <E extends Error>(error: E): E => {
    if (opts.production && error instanceof GraphQLError) error.message = error.message.replace(SUGGESTION, '');
    return error;
  };
  const mask = (error: unknown, message: string): Error => {
    const masked = maskError(error, message, false);
    return hide(masked);
  };
  return {
    maskedErrors: { maskError: mask, isDev: false },
    mask: (error) => {
      const masked = mask(error, 'Unexpected error.');
      if (masked !== error) opts.onMasked(error);
      return masked as GraphQLError;
    },
    plugin: {
      onValidate:
        () =>
        ({ result, setResult, valid }) => {
          if (!valid) setResult(result.map((e) => hide(e)));
        },
    },
  };
}
