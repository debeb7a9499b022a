import type { ServerResponse } from 'node:http';
import { sendJson } from '@clipwire/providers';
import type { GraphQLError } from 'graphql';

/** A request refused before GraphQL ran, answered as yoga answers one (status and headers from the error). */
export function sendGraphQLError(res: ServerResponse, error: GraphQLError): void {
  const http = (error.extensions.http ?? {}) as { status?: number; headers?: Record<string, string> };
  const { http: _http, ...extensions } = error.extensions;
  sendJson(res, http.status ?? 400, { errors: [{ message: error.message, extensions }] }, http.headers ?? {});
}

export function isLoopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}
