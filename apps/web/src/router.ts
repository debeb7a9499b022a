import { useSyncExternalStore } from 'react';

/** Hash routes: the API serves only real files, so the console routes inside the page. */
export type Route =
  | { name: 'tasks' }
  | { name: 'task'; id: string }
  | { name: 'new' }
  | { name: 'providers' }
  | { name: 'webhooks' }
  | { name: 'keys' }
  | { name: 'notFound'; path: string };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '') || '/tasks';
  if (path === '/' || path === '/tasks') return { name: 'tasks' };
  const task = /^\/tasks\/([^/]+)$/.exec(path);
  if (task) return { name: 'task', id: decodeURIComponent(task[1]!) };
  if (path === '/new') return { name: 'new' };
  if (path === '/providers') return { name: 'providers' };
  if (path === '/webhooks') return { name: 'webhooks' };
  if (path === '/keys') return { name: 'keys' };
  return { name: 'notFound', path };
}

export const href = {
  tasks: () => '#/tasks',
  task: (id: string) => `#/tasks/${encodeURIComponent(id)}`,
  newTask: () => '#/new',
  providers: () => '#/providers',
  webhooks: () => '#/webhooks',
  keys: () => '#/keys',
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
