import { print } from '@0no-co/graphql.web';
import type { TadaDocumentNode } from 'gql.tada';
import { ClipwireError, type GraphQLErrorPayload } from './errors.js';
import { operationBody } from './uploads.js';

export interface HttpOptions {
  endpoint: string;
  apiKey: string;
  fetch: typeof fetch;
  headers?: Record<string, string>;
}

/**
 * Sends one query or mutation over HTTP (JSON, or a multipart request when the variables hold
 * uploads) and returns its `data`; any failure is a ClipwireError.
 */
export async function postOperation<R, V>(
  http: HttpOptions,
  document: TadaDocumentNode<R, V>,
  variables: V,
  signal?: AbortSignal,
): Promise<R> {
  const { body, multipart } = await operationBody(print(document), variables);
  const headers: Record<string, string> = {
    ...http.headers,
    accept: 'application/graphql-response+json, application/json',
    authorization: `Bearer ${http.apiKey}`,
  };
  if (multipart) headers['graphql-preflight'] = '1';
  else headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await http.fetch(http.endpoint, { method: 'POST', headers, body, ...(signal ? { signal } : {}) });
  } catch (error) {
    if (signal?.aborted) throw new ClipwireError('ABORTED', 'The request was aborted.', { cause: signal.reason });
    throw new ClipwireError('NETWORK', `Could not reach the Clipwire API at ${http.endpoint}.`, { cause: error });
  }
  const text = await res.text().catch(() => '');
  let json: { data?: R | null; errors?: GraphQLErrorPayload[] } | undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  const errors = json?.errors ?? [];
  const status = res.status;
  if (status === 401) {
    throw new ClipwireError('UNAUTHENTICATED', errors[0]?.message ?? 'The API key was not accepted.', {
      status,
      graphqlErrors: errors,
    });
  }
  if (status === 429) {
    const retryAfter = Number(res.headers.get('retry-after'));
    throw new ClipwireError('RATE_LIMITED', errors[0]?.message ?? 'Too many requests.', {
      status,
      graphqlErrors: errors,
      ...(Number.isFinite(retryAfter) ? { retryAfterSeconds: retryAfter } : {}),
    });
  }
  if (errors.length > 0) {
    throw new ClipwireError('GRAPHQL', errors.map((e) => e.message).join('; '), { status, graphqlErrors: errors });
  }
  if (!res.ok || !json?.data) {
    throw new ClipwireError(
      'HTTP',
      `The Clipwire API answered HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`,
      {
        status,
      },
    );
  }
  return json.data;
}
