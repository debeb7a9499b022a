import { useCallback, useContext, useEffect, useMemo, useState } from 'react';
import { Provider as UrqlProvider } from 'urql';
import { createApiClient } from './api';
import { ClipwireContext } from './feed';
import { href, parseRoute, useHash } from './router';
import {
  fetchConsoleConfig,
  loadApiKey,
  SessionContext,
  storeApiKey,
  type ConsoleConfig,
  type Session,
} from './session';
import { SignIn } from './pages/SignIn';
import { TasksPage } from './pages/Tasks';
import { TaskPage } from './pages/TaskDetail';
import { NewTaskPage } from './pages/NewTask';
import { ProvidersPage } from './pages/Providers';
import { UsagePage } from './pages/Usage';
import { WebhooksPage } from './pages/Webhooks';
import { ApiKeysPage } from './pages/ApiKeys';
import { EmptyState, PageTitle } from './components/ui';

export function App() {
  const [apiKey, setApiKey] = useState<string | null>(() => loadApiKey());
  const [config, setConfig] = useState<ConsoleConfig | null | undefined>(undefined);
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    void fetchConsoleConfig().then((c) => live && setConfig(c));
    return () => {
      live = false;
    };
  }, []);

  const signOut = useCallback((message?: string) => {
    storeApiKey(null);
    setApiKey(null);
    setNotice(message ?? null);
  }, []);

  // Another tab signing in or out changes this one too.
  useEffect(() => {
    const onStorage = (e: StorageEvent) => {
      if (e.key === 'clipwire.apiKey' || e.key === null) setApiKey(loadApiKey());
    };
    window.addEventListener('storage', onStorage);
    return () => window.removeEventListener('storage', onStorage);
  }, []);

  const api = useMemo(
    () => (apiKey ? createApiClient(apiKey, () => signOut('Your API key was not accepted. Sign in again.')) : null),
    [apiKey, signOut],
  );
  useEffect(() => () => api?.dispose(), [api]);

  const session = useMemo<Session | null>(
    () => (apiKey ? { apiKey, mode: config?.mode ?? null, signOut } : null),
    [apiKey, config, signOut],
  );

  if (!api || !session) {
    return (
      <SignIn
        config={config}
        notice={notice}
        onSignedIn={(key) => {
          storeApiKey(key);
          setNotice(null);
          setApiKey(key);
        }}
      />
    );
  }
  return (
    <SessionContext.Provider value={session}>
      <UrqlProvider value={api.client}>
        <ClipwireContext.Provider value={api.clipwire}>
          <Shell />
        </ClipwireContext.Provider>
      </UrqlProvider>
    </SessionContext.Provider>
  );
}

function Shell() {
  const route = parseRoute(useHash());
  const session = useContext(SessionContext);
  const current = route.name === 'task' ? 'tasks' : route.name;
  const link = (name: string, to: string, text: string) => (
    <a href={to} className="nav-link" aria-current={current === name ? 'page' : undefined}>
      {text}
    </a>
  );
  return (
    <>
      {/* biome-ignore lint/a11y/useValidAnchor: a skip link keeps its #main href (works without script); the handler only moves focus */}
      <a
        className="skip-link"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        Skip to content
      </a>
      <header className="topbar">
        <a className="brand" href={href.tasks()}>
          <span className="brand-mark" aria-hidden="true">
            ◆
          </span>{' '}
          Clipwire
        </a>
        {session?.mode ? (
          <span
            className={`mode mode-${session.mode.toLowerCase()}`}
            title={session.mode === 'SANDBOX' ? 'Providers are simulated' : 'Real providers'}
          >
            {session.mode === 'SANDBOX' ? 'Sandbox' : 'Live'}
          </span>
        ) : null}
        <nav aria-label="Main" className="nav">
          {link('tasks', href.tasks(), 'Tasks')}
          {link('new', href.newTask(), 'New task')}
          {link('providers', href.providers(), 'Providers')}
          {link('webhooks', href.webhooks(), 'Webhooks')}
          {link('usage', href.usage(), 'Usage')}
          {link('keys', href.keys(), 'API keys')}
        </nav>
        <button type="button" className="button subtle signout" onClick={() => session?.signOut()}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {route.name === 'tasks' ? <TasksPage query={route.query} /> : null}
        {route.name === 'task' ? <TaskPage key={route.id} id={route.id} /> : null}
        {route.name === 'new' ? <NewTaskPage key={route.from ?? ''} from={route.from} /> : null}
        {route.name === 'providers' ? <ProvidersPage /> : null}
        {route.name === 'webhooks' ? <WebhooksPage /> : null}
        {route.name === 'keys' ? <ApiKeysPage /> : null}
        {route.name === 'usage' ? <UsagePage /> : null}
        {route.name === 'notFound' ? (
          <>
            <PageTitle>Page not found</PageTitle>
            <EmptyState title={`Nothing lives at ${route.path}.`}>
              <a href={href.tasks()}>Go to the tasks</a>
            </EmptyState>
          </>
        ) : null}
      </main>
    </>
  );
}
