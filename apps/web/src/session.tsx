import { createContext, useContext } from 'react';

const STORAGE_KEY = 'clipwire.apiKey';

export function loadApiKey(): string | null {
  try {
    return window.localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export function storeApiKey(key: string | null): void {
  try {
    if (key) window.localStorage.setItem(STORAGE_KEY, key);
    else window.localStorage.removeItem(STORAGE_KEY);
  } catch {
    // Storage disabled: the key lives as long as the page.
  }
}

export interface ConsoleConfig {
  mode: 'SANDBOX' | 'LIVE';
  sandboxApiKey?: string;
}

/** What the API tells the console before sign-in (`GET /console/config.json`). */
export async function fetchConsoleConfig(): Promise<ConsoleConfig | null> {
  try {
    const res = await fetch('/console/config.json', { headers: { accept: 'application/json' } });
    if (!res.ok) return null;
    const body = (await res.json()) as Partial<ConsoleConfig>;
    if (body.mode !== 'SANDBOX' && body.mode !== 'LIVE') return null;
    return {
      mode: body.mode,
      ...(typeof body.sandboxApiKey === 'string' ? { sandboxApiKey: body.sandboxApiKey } : {}),
    };
  } catch {
    return null;
  }
}

export interface Session {
  apiKey: string;
  mode: ConsoleConfig['mode'] | null;
  signOut(message?: string): void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in console');
  return session;
}
