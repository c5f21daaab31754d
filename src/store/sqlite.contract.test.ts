/**
 * The SQLite store through the store contract (contract.ts), each test on a file of its own. Heartbeats are
 * aged through a second connection to the file, as a process that stopped beating would have left them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { storeContract, type ContractOptions } from './contract.ts';
import { SqliteRunStore } from './sqlite.ts';

storeContract('sqlite', async (options: ContractOptions = {}) => {
  const dir = await mkdtemp(join(tmpdir(), 'conductor-contract-'));
  const path = join(dir, 'runs.db');
  const store = new SqliteRunStore(path, options);
  return {
    store,
    reopen: async () => new SqliteRunStore(path),
    cleanup: () => rm(dir, { recursive: true, force: true }),
    setHeartbeat: async (runId, agoMs) => {
      const other = new DatabaseSync(path);
      try {
        other.prepare('UPDATE runs SET heartbeat_at = ? WHERE id = ?').run(Date.now() - agoMs, runId);
      } finally {
        other.close();
      }
    },
  };
});
