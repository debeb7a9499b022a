import { useSyncExternalStore } from 'react';

/** Hash routes: the API serves only real files, so the console routes inside the page. */
export type Route =
  /** `query`: the list's filters, kept in the URL so that a reload or a shared link shows the same view. */
  | { name: 'tasks'; query: URLSearchParams }
  | { name: 'task'; id: string }
  /** `from`: a task whose input fills the form ("Run again"). */
  | { name: 'new'; from: string | null }
  | { name: 'providers' }
  | { name: 'webhooks' }
  | { name: 'keys' }
  | { name: 'usage' }
  | { name: 'notFound'; path: string };

export function parseRoute(hash: string): Route {
  const [path = '', search = ''] = (hash.replace(/^#/, '') || '/tasks').split('?', 2);
  if (path === '/' || path === '/tasks') return { name: 'tasks', query: new URLSearchParams(search) };
  const task = /^\/tasks\/([^/]+)$/.exec(path);
  if (task) return { name: 'task', id: decodeURIComponent(task[1]!) };
  if (path === '/new') return { name: 'new', from: new URLSearchParams(search).get('from') };
  if (path === '/providers') return { name: 'providers' };
  if (path === '/webhooks') return { name: 'webhooks' };
  if (path === '/keys') return { name: 'keys' };
  if (path === '/usage') return { name: 'usage' };
  return { name: 'notFound', path };
}

export const href = {
  tasks: (query?: URLSearchParams) => (query?.size ? `#/tasks?${query}` : '#/tasks'),
  task: (id: string) => `#/tasks/${encodeURIComponent(id)}`,
  newTask: (from?: string) => (from ? `#/new?from=${encodeURIComponent(from)}` : '#/new'),
  providers: () => '#/providers',
  webhooks: () => '#/webhooks',
  keys: () => '#/keys',
  usage: () => '#/usage',
};

function subscribe(onChange: () => void): () => void {
  window.addEventListener('hashchange', onChange);
  return () => window.removeEventListener('hashchange', onChange);
}

export function useHash(): string {
  return useSyncExternalStore(subscribe, () => window.location.hash);
}

export function navigate(to: string): void {
  window.location.hash = to.replace(/^#/, '');
}

/** Moves to `to` without a new history entry (a filter change replaces the view, Back leaves the list). */
export function replaceRoute(to: string): void {
  window.location.replace(to.startsWith('#') ? to : `#${to}`);
}
