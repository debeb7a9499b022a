import { GraphQLError } from 'graphql';
import { isBlobLike } from '@clipwire/schema';
import { builder } from '../builder.js';

/** A file sent with the GraphQL multipart request spec (yoga parses it into a whatwg File). */
export const FileScalar = builder.scalarType('File', {
  description: 'An uploaded file (GraphQL multipart request).',
  serialize: () => {
    throw new GraphQLError('File is an input-only type');
  },
  parseValue: (value) => {
    if (!isBlobLike(value)) throw new GraphQLError('File must be a multipart upload');
    return value;
  },
});

export const MediaInputType = builder.inputType('MediaInput', {
  isOneOf: true,
  description:
    'A media file as exactly one of: a public http(s) URL (fetched only as far as needed to check it), raw base64 (no data: prefix), or an uploaded file.',
  fields: (t) => ({
    url: t.string(),
    base64: t.string(),
    file: t.field({ type: FileScalar }),
  }),
});
