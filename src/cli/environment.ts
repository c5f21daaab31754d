/**
 * Every environment variable Conductor reads, with what it does: `docs/cli.md`'s table is generated from this
 * list, and a test fails when the code reads a variable that is not in it.
 */
export interface EnvironmentVariable {
  name: string;
  description: string;
}

export const ENVIRONMENT: readonly EnvironmentVariable[] = [
  { name: 'CONDUCTOR_MODEL', description: 'The model of llm steps that name none when `--model` is not given and the workflow has no `config.model` (without any of them: the provider whose key is set). `echo` answers with the prompt: no key, no network.' },
  { name: 'CONDUCTOR_HOME', description: 'Where Conductor keeps its files: the default store `runs.db`, `prices.yaml`, posted workflows (default `~/.conductor`).' },
  { name: 'CONDUCTOR_STORE', description: 'The run store when `--store` is not given: a file path or a `postgres://` URL.' },
  { name: 'CONDUCTOR_STORE_TIMEOUT', description: 'Seconds a write waits for another process\'s lock on a SQLite store (default 10).' },
  { name: 'CONDUCTOR_QUEUE', description: 'The Redis URL of `--queue` when it is not given (`run`, `resume`, `serve`, `worker`).' },
  { name: 'CONDUCTOR_QUEUE_KEY', description: 'A secret (16 characters or more) the runs and workers of one deployment share: runs sign their jobs with it and workers refuse jobs not signed with it.' },
  { name: 'CONDUCTOR_WORKER_ENV', description: 'The variables a worker lets steps read as `${env.*}` when `--env` is not given (comma-separated).' },
  { name: 'CONDUCTOR_SERVE_TOKEN', description: 'The bearer token `serve` requires on every API request; required to bind an address other than loopback.' },
  { name: 'OPENAI_API_KEY', description: 'The key for `openai:` models.' },
  { name: 'OPENAI_BASE_URL', description: 'Another OpenAI-compatible endpoint for `openai:` models (a gateway, a local server).' },
  { name: 'ANTHROPIC_API_KEY', description: 'The key for `anthropic:` models.' },
  { name: 'ANTHROPIC_BASE_URL', description: 'Another endpoint for `anthropic:` models.' },
  { name: 'OLLAMA_HOST', description: 'The Ollama server for `ollama:` models (default `http://127.0.0.1:11434`).' },
  { name: 'NODE_USE_ENV_PROXY', description: '`1` sends provider and `http` requests through the proxy in `HTTPS_PROXY`/`HTTP_PROXY` (less `NO_PROXY`), as Node\'s own `fetch` does.' },
  { name: 'PGUSER', description: 'The PostgreSQL user when a `postgres://` store URL names none (default: the operating system\'s user). The driver reads the other libpq variables too (`PGPASSWORD`, `PGHOST`, `PGPORT`, `PGDATABASE`) for what the URL leaves out.' },
  { name: 'NO_COLOR', description: 'Set to any non-empty value: no colour. Colour is used only on a terminal anyway.' },
  { name: 'FORCE_COLOR', description: 'Set (to anything but `0` or `false`): colour even when the output is not a terminal.' },
  { name: 'CI', description: 'Set: `run` prints plain progress lines instead of the live display, even on a terminal.' },
];

/**
 * Read by the code but not settings: the process's ordinary environment, and knobs that exist only so tests
 * can shorten a minute or a lock (never documented as settings).
 */
export const NOT_SETTINGS: readonly string[] = ['PATH', 'HOME', 'USER', 'TERM', 'CONDUCTOR_RATE_WINDOW_MS', 'CONDUCTOR_WORKER_LOCK_MS'];
