/**
 * Runs one program in a process group of its own and gives back how it ended. The group is what is stopped:
 * on abort (a timeout, fail-fast, Ctrl-C), on output over the cap, and when the program exits leaving
 * processes behind, SIGTERM goes to every process in it, and SIGKILL 5 s later to whatever is still there.
 * The promise settles only once the program has exited and its group is gone (or has been sent SIGKILL), so
 * the engine waits for it (the action's stopGraceMs) and no process a run started outlives the run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcessSpec {
  /** The program and its arguments; the program is looked up on `env.PATH` unless it holds a `/`. */
  argv: readonly string[];
  cwd: string;
  env: Readonly<Record<string, string>>;
  /** Written to the program's standard input; without it, the input is empty (closed at once). */
  stdin?: string | undefined;
  /** The most either output may hold, in bytes. */
  maxBytes: number;
  signal: AbortSignal;
}

export type ProcessEnd =
  | { kind: 'exited'; code: number; stdout: Buffer; stderr: Buffer }
  | { kind: 'signalled'; signal: string; stdout: Buffer; stderr: Buffer }
  | { kind: 'too_large'; stream: 'stdout' | 'stderr' }
  | { kind: 'spawn_failed'; error: NodeJS.ErrnoException }
  | { kind: 'aborted' };

/** After SIGTERM, how long a group has to go before SIGKILL. */
export const KILL_AFTER_MS = 5000;
/** How often a group is looked at while it is being stopped (no event says when a grandchild exits). */
const POLL_MS = 50;

/** Groups still running: killed outright if Conductor exits first (a second Ctrl-C exits at once). */
const live = new Set<number>();
let exitHook = false;
function track(pgid: number): void {
  live.add(pgid);
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const id of live) signalGroup(id, 'SIGKILL');
  });
}

export function runProcess(spec: ProcessSpec): Promise<ProcessEnd> {
  return new Promise((resolve) => {
    if (spec.signal.aborted) return resolve({ kind: 'aborted' });
    let child: ChildProcess;
    try {
      // Own group (detached), no shell, stdin a pipe we close: a command never reads the terminal.
      child = spawn(spec.argv[0]!, spec.argv.slice(1), { cwd: spec.cwd, env: spec.env, detached: true, shell: false, stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
    } catch (error) {
      return resolve({ kind: 'spawn_failed', error: error as NodeJS.ErrnoException }); // a NUL byte in an argument
    }
    const pid = child.pid;
    let stopping: 'aborted' | 'too_large_stdout' | 'too_large_stderr' | 'leftovers' | undefined;
    let killed = false;
    let killTimer: NodeJS.Timeout | undefined;
    let pollTimer: NodeJS.Timeout | undefined;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let settled = false;
    const settle = (end: ProcessEnd) => {
      if (settled) return;
      settled = true;
      clearTimeout(killTimer);
      clearTimeout(pollTimer);
      spec.signal.removeEventListener('abort', onAbort);
      if (pid !== undefined) live.delete(pid);
      resolve(end);
    };
    if (pid === undefined) {
      // Not started (ENOENT, EACCES, a missing cwd): 'error' says why.
      child.once('error', (error) => settle({ kind: 'spawn_failed', error }));
      return;
    }
    track(pid);
    child.on('error', () => {}); // a failed kill(): the group is looked at again anyway

    const stdout = collector(spec.maxBytes, () => stop('too_large_stdout'));
    const stderr = collector(spec.maxBytes, () => stop('too_large_stderr'));
    child.stdout!.on('data', stdout.add);
    child.stderr!.on('data', stderr.add);
    child.stdin!.on('error', () => {}); // EPIPE: the program did not read its input, which is its business
    child.stdin!.end(spec.stdin ?? '');


    function stop(why: NonNullable<typeof stopping>): void {
      if (stopping) return;
      stopping = why;
      signalGroup(pid!, 'SIGTERM');
      killTimer = setTimeout(() => {
        signalGroup(pid!, 'SIGKILL');
        killed = true;
        // A process that left the group (`setsid`) may still hold the output open: the program itself has
        // exited, so stop reading and end with what it wrote.
        if (!exit && exited) {
          child.stdout!.destroy();
          child.stderr!.destroy();
          exit = exited;
        }
        finish();
      }, KILL_AFTER_MS);
    }
    function onAbort(): void {
      stop('aborted');
    }
    spec.signal.addEventListener('abort', onAbort, { once: true });

    // The program exited: processes it left running in the background are stopped now, before the step ends —
    // also one that still holds its output open, which would otherwise keep the step waiting for it.
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      if (!stopping && groupAlive(pid)) stop('leftovers');
    });
    child.on('close', (code, signal) => {
      exit = { code, signal };
      finish();
    });

    function finish(): void {
      clearTimeout(pollTimer);
      if (!exit) return;
      if (stopping && !killed && groupAlive(pid!)) {
        pollTimer = setTimeout(finish, POLL_MS);
        return;
      }
      if (stopping === 'aborted') return settle({ kind: 'aborted' });
      if (stopping === 'too_large_stdout' || stopping === 'too_large_stderr') return settle({ kind: 'too_large', stream: stopping === 'too_large_stdout' ? 'stdout' : 'stderr' });
      const out = stdout.bytes();
      const err = stderr.bytes();
      if (exit.code !== null) return settle({ kind: 'exited', code: exit.code, stdout: out, stderr: err });
      settle({ kind: 'signalled', signal: exit.signal ?? 'unknown', stdout: out, stderr: err });
    }
  });
}

/** Bytes read from one output, up to `max`; past it, `over` is called once and the rest is dropped. */
function collector(max: number, over: () => void) {
  const chunks: Buffer[] = [];
  let size = 0;
  let full = false;
  return {
    add: (chunk: Buffer) => {
      if (full) return;
      size += chunk.length;
      if (size > max) {
        full = true;
        over();
      } else chunks.push(chunk);
    },
    bytes: () => Buffer.concat(chunks),
  };
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is gone already.
  }
}

/**
 * Whether any process of group `pgid` is still running. Where /proc is, zombies do not count: where PID 1 does
 * not reap orphans (a container without an init), a killed grandchild stays a zombie for good, and waiting
 * for it to go would add 5 s to every stop.
 */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone while we looked
    }
    // `pid (comm) state ppid pgrp …`: comm may hold spaces and parentheses, so read after the last `)`.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') return true;
  }
  return false;
}
