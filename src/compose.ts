/**
 * The composition root: the one module that chooses concrete pieces — which actions a workflow may use, where
 * steps run (in this process, or on workers behind a queue), and (with the store factory it calls) which store
 * a location opens. Everything else is given them, or asks here for the default, so a new action, store or
 * executor is wired in one place. Heavy pieces (the queue's client) load only when chosen.
 */
import { builtinActions } from './actions/builtin.ts';
import type { ActionRegistry } from './actions/registry.ts';
import type { QueueLocation } from './queue/connection.ts';
import type { WorkerOptions, RunningWorker } from './queue/worker.ts';
import type { StepExecutor } from './scheduler/executor.ts';
import type { RunStore, StoreOptions } from './store/types.ts';

let actions: ActionRegistry | undefined;

/** The actions every workflow may use unless a caller gives others (the built-in `llm`, `http`, `file`, `shell`). */
export function defaultActions(): ActionRegistry {
  return (actions ??= builtinActions());
}

/**
 * The run store at `location` (a SQLite file's path, or a `postgres://` URL): the store factory (store/open.ts)
 * is loaded only when a store is opened, and PostgreSQL's client only for a `postgres://` location.
 */
export async function runStore(location: string, options: StoreOptions = {}): Promise<RunStore> {
  const { openRunStore } = await import('./store/open.ts');
  return openRunStore(location, options);
}

/** Where a run's steps go: workers behind `queue`, or (none given) this process. `dispose` lets go of the queue. */
export async function stepExecutor(queue: QueueLocation | undefined, options: { warn?: (line: string) => void } = {}): Promise<{ executor?: StepExecutor; dispose(): Promise<void> }> {
  if (!queue) return { dispose: async () => {} };
  const { QueueDispatcher } = await import('./queue/dispatch.ts');
  const dispatcher = await QueueDispatcher.connect(queue, options);
  return { executor: dispatcher, dispose: () => dispatcher.dispose() };
}

/** A worker taking steps from `queue`, with the default actions. */
export async function queueWorker(options: Omit<WorkerOptions, 'actions'>): Promise<RunningWorker> {
  const { startWorker } = await import('./queue/worker.ts');
  return startWorker({ ...options, actions: defaultActions() });
}
