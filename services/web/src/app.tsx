// The shell: login gate (when the API requires a key), navigation and the page for the path.
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { errorText, getSession, login, logout, onAuthRequired, reloginWithStoredKey, storedKey } from './api.tsx';
import { BatchDetailPage, BatchesPage } from './pages/Batches.tsx';
import { JobsPage } from './pages/Jobs.tsx';
import { NewAnalysisPage } from './pages/NewAnalysis.tsx';
import { RepairFormPage, RepairStatusPage } from './pages/Repair.tsx';
import { ReportsPage } from './pages/Reports.tsx';
import { ResultPage } from './pages/Result.tsx';
import { SystemPage } from './pages/System.tsx';
import { Link, matchPath, navigate, useLocation } from './router.tsx';

const NAV = [
  ['/new', 'New analysis'],
  ['/jobs', 'Jobs'],
  ['/batches', 'Batches'],
  ['/reports', 'Reports'],
  ['/system', 'System'],
] as const;

type Auth = { state: 'checking' } | { state: 'login'; message: string | null } | { state: 'in'; required: boolean };

export function App() {
  const [auth, setAuth] = useState<Auth>({ state: 'checking' });

  useEffect(() => {
    getSession()
      .then(async (s) => {
        if (!s.auth_required || s.authenticated) return setAuth({ state: 'in', required: s.auth_required });
        // The cookie expired but this tab still has the key: log in again quietly.
        if (storedKey() && (await reloginWithStoredKey())) return setAuth({ state: 'in', required: true });
        setAuth({ state: 'login', message: null });
      })
      .catch((e: unknown) => setAuth({ state: 'login', message: `The server could not be asked whether a key is needed: ${errorText(e)}` }));
    return onAuthRequired((message) => setAuth({ state: 'login', message }));
  }, []);

  if (auth.state === 'checking') return <p class="muted boot">Connecting…</p>;
  if (auth.state === 'login') return <Login message={auth.message} onDone={() => setAuth({ state: 'in', required: true })} />;
  return <Shell authRequired={auth.required} onLogout={() => setAuth({ state: 'login', message: 'Logged out.' })} />;
}

function Login({ message, onDone }: { message: string | null; onDone: () => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const ref = useRef<HTMLInputElement>(null);
  useEffect(() => ref.current?.focus(), []);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      await login(key.trim());
      onDone();
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  };
  return (
    <main class="login" id="main">
      <form class="card" onSubmit={submit} id="login-form">
        <h1>Sync Analyzer</h1>
        <p>This server needs an API key. It is exchanged for a session cookie and kept in this tab only (session storage).</p>
        {message && !error ? <p class="muted">{message}</p> : null}
        <label for="api-key">API key</label>
        <input id="api-key" ref={ref} type="password" autoComplete="current-password" value={key} onInput={(e) => setKey((e.target as HTMLInputElement).value)} required aria-invalid={!!error} aria-describedby={error ? 'login-error' : undefined} />
        {error ? (
          <p class="error-text" role="alert" id="login-error">
            {error}
          </p>
        ) : null}
        <button type="submit" class="btn btn-primary" disabled={busy || !key.trim()}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </main>
  );
}

function Shell({ authRequired, onLogout }: { authRequired: boolean; onLogout: () => void }) {
  const { path } = useLocation();
  useEffect(() => {
    if (path === '/' || path === '') navigate('/new', { replace: true });
  }, [path]);
  const page = route(path);
  useEffect(() => {
    document.title = `${page.title} · Sync Analyzer`;
  }, [page.title]);
  return (
    <>
      <a href="#main" class="skip">
        Skip to content
      </a>
      <header class="topbar">
        <Link href="/new" class="brand">
          Sync Analyzer
        </Link>
        <nav aria-label="main">
          <ul>
            {NAV.map(([href, label]) => (
              <li key={href}>
                <Link href={href} aria-current={page.section === href ? 'page' : undefined}>
                  {label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        {authRequired ? (
          <button
            type="button"
            class="btn btn-small btn-ghost"
            onClick={() => {
              void logout().then(onLogout);
            }}
          >
            Log out
          </button>
        ) : null}
      </header>
      <main id="main" tabIndex={-1}>
        {page.node}
      </main>
    </>
  );
}

function route(path: string): { title: string; section: string; node: JSX.Element } {
  let m: Record<string, string> | null;
  if (path === '/new' || path === '/' || path === '') return { title: 'New analysis', section: '/new', node: <NewAnalysisPage /> };
  if (path === '/jobs') return { title: 'Jobs', section: '/jobs', node: <JobsPage /> };
  if ((m = matchPath('/analyses/:id/repair', path))) return { title: 'Repair', section: '/jobs', node: <RepairFormPage analysisId={m.id!} key={m.id} /> };
  if ((m = matchPath('/analyses/:id', path))) return { title: 'Result', section: '/jobs', node: <ResultPage id={m.id!} key={m.id} /> };
  if ((m = matchPath('/repairs/:id', path))) return { title: 'Repair', section: '/jobs', node: <RepairStatusPage id={m.id!} key={m.id} /> };
  if (path === '/batches') return { title: 'Batches', section: '/batches', node: <BatchesPage /> };
  if ((m = matchPath('/batches/:id', path))) return { title: 'Batch', section: '/batches', node: <BatchDetailPage id={m.id!} key={m.id} /> };
  if (path === '/reports') return { title: 'Reports', section: '/reports', node: <ReportsPage /> };
  if (path === '/system') return { title: 'System', section: '/system', node: <SystemPage /> };
  return {
    title: 'Not found',
    section: '',
    node: (
      <div class="page">
        <h1>Not found</h1>
        <p>
          There is no page at <code>{path}</code>. <Link href="/new">Start a new analysis</Link>.
        </p>
      </div>
    ),
  };
}
