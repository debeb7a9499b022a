import { builder } from '../builder.js';

export const MediaInputType = builder.inputType('MediaInput', {
  isOneOf: true,
  description: 'A media file, given as exactly one of: a public http(s) URL, or raw base64 (no data: prefix).',
  fields: (t) => ({
    url: t.string(),
    base64: t.string(),
  }),
});
