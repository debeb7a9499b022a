import { Client, cacheExchange, fetchExchange, mapExchange, stringifyDocument, subscriptionExchange } from 'urql';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import type { TadaDocumentNode } from 'gql.tada';

export const GRAPHQL_PATH = '/graphql';

function wsUrl(): string {
  const url = new URL(GRAPHQL_PATH, window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

export interface ApiClient {
  client: Client;
  /** The WebSocket client the subscriptions share (the live list drives its feed on it directly). */
  ws: WsClient;
  dispose(): void;
}

/**
 * One urql client per API key: queries and mutations over HTTP with `Authorization: Bearer`,
 * subscriptions over graphql-ws with the key in `connectionParams`.
 */
export function createApiClient(apiKey: string, onUnauthorized: () => void): ApiClient {
  const authorization = `Bearer ${apiKey}`;
  const ws: WsClient = createWsClient({
    url: wsUrl(),
    connectionParams: { authorization },
    lazy: true,
    retryAttempts: 8,
    // 4403: the server refused the key. Retrying would not help.
    shouldRetry: (event) => !(isCloseEvent(event) && event.code === 4403),
    on: {
      closed: (event) => {
        if (isCloseEvent(event) && event.code === 4403) onUnauthorized();
      },
    },
  });
  const client = new Client({
    url: GRAPHQL_PATH,
    preferGetMethod: false,
    fetchOptions: () => ({ headers: { authorization } }),
    exchanges: [
      mapExchange({
        onError(error) {
          if (error.response?.status === 401) onUnauthorized();
        },
      }),
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query ?? '' };
          return {
            subscribe(sink) {
              const unsubscribe = ws.subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });
  return { client, ws, dispose: () => void ws.dispose() };
}

function isCloseEvent(value: unknown): value is CloseEvent {
  return (
    typeof value === 'object' && value !== null && 'code' in value && typeof (value as CloseEvent).code === 'number'
  );
}

export interface GraphQLResponse<R> {
  data?: R | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Progress of one request's upload: bytes sent of the body's total. */
export type UploadProgress = (loaded: number, total: number) => void;

/**
 * Sends one operation with XMLHttpRequest (for upload progress). Variables holding `File`s go as a
 * GraphQL multipart request (operations / map / files); the `GraphQL-Preflight` header makes it a
 * non-simple request, so a browser on another site cannot send it (CSRF).
 * Returns the files found, in the order they are sent, so callers can show per-file progress.
 */
export function postOperation<R, V>(
  document: TadaDocumentNode<R, V>,
  variables: V,
  options: { apiKey: string; onProgress?: UploadProgress; onFiles?: (paths: string[], sizes: number[]) => void },
): Promise<GraphQLResponse<R>> {
  const files: { path: string; file: File }[] = [];
  const stripped = extractFiles(variables, 'variables', files);
  const operation = { query: stringifyDocument(document), variables: stripped };
  options.onFiles?.(
    files.map((f) => f.path),
    files.map((f) => f.file.size),
  );

  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', GRAPHQL_PATH);
    xhr.setRequestHeader('authorization', `Bearer ${options.apiKey}`);
    xhr.setRequestHeader('accept', 'application/graphql-response+json, application/json');
    xhr.responseType = 'text';
    if (options.onProgress) {
      const onProgress = options.onProgress;
      xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : 0);
      xhr.upload.onload = () => onProgress(1, 1);
    }
    xhr.onerror = () => reject(new Error('The network request failed. Is the API running?'));
    xhr.onabort = () => reject(new Error('The request was aborted.'));
    xhr.onload = () => {
      let body: GraphQLResponse<R> | undefined;
      try {
        body = JSON.parse(xhr.responseText) as GraphQLResponse<R>;
      } catch {
        body = undefined;
      }
      if (xhr.status === 401) return reject(new HttpError(401, 'Your API key was not accepted. Sign in again.'));
      if (xhr.status === 413) return reject(new HttpError(413, 'The files are too large to send.'));
      if (!body) return reject(new HttpError(xhr.status, `The API answered with HTTP ${xhr.status}.`));
      resolve(body);
    };
    if (files.length === 0) {
      xhr.setRequestHeader('content-type', 'application/json');
      xhr.send(JSON.stringify(operation));
      return;
    }
    const form = new FormData();
    form.append('operations', JSON.stringify(operation));
    form.append('map', JSON.stringify(Object.fromEntries(files.map((f, i) => [String(i), [f.path]]))));
    files.forEach((f, i) => form.append(String(i), f.file, f.file.name));
    xhr.setRequestHeader('graphql-preflight', '1');
    xhr.send(form);
  });
}

/** Replaces every File in `value` by null, collecting it with its object path (spec: `variables.input.image.file`). */
function extractFiles(value: unknown, path: string, out: { path: string; file: File }[]): unknown {
  if (value instanceof File) {
    out.push({ path, file: value });
    return null;
  }
  if (Array.isArray(value)) return value.map((v, i) => extractFiles(v, `${path}.${i}`, out));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, extractFiles(v, `${path}.${k}`, out)]));
  }
  return value;
}
