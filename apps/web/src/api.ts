import { Client, cacheExchange, fetchExchange, mapExchange, stringifyDocument, subscriptionExchange } from 'urql';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { type Clipwire, createClipwire, operationBody, type TadaDocumentNode } from '@clipwire/client';

export const GRAPHQL_PATH = '/graphql';

function wsUrl(): string {
  const url = new URL(GRAPHQL_PATH, window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

export interface ApiClient {
  client: Client;
  /** @clipwire/client with the same key: the live list follows the tenant's feed through it. */
  clipwire: Clipwire;
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
  const clipwire = createClipwire({ url: GRAPHQL_PATH, apiKey });
  return {
    client,
    clipwire,
    dispose: () => {
      void ws.dispose();
      clipwire.close();
    },
  };
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
 * Sends one operation with XMLHttpRequest (for upload progress). The body is @clipwire/client's: JSON,
 * or a GraphQL multipart request (operations / map / files) when variables hold `File`s; the
 * `GraphQL-Preflight` header makes it a non-simple request, so a browser on another site cannot send
 * it (CSRF). Reports the files found, in the order they are sent, so callers can show per-file progress.
 */
export async function postOperation<R, V>(
  document: TadaDocumentNode<R, V>,
  variables: V,
  options: { apiKey: string; onProgress?: UploadProgress; onFiles?: (paths: string[], sizes: number[]) => void },
): Promise<GraphQLResponse<R>> {
  const { body, multipart, files } = await operationBody(stringifyDocument(document), variables);
  options.onFiles?.(
    files.map((f) => f.path),
    files.map((f) => f.size),
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
    if (multipart) xhr.setRequestHeader('graphql-preflight', '1');
    else xhr.setRequestHeader('content-type', 'application/json');
    xhr.send(body);
  });
}
