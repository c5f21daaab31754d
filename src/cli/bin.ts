/** Process entry: wires the real streams, environment and signals into `main`, then exits with its code. */
import { main } from './main.ts';

const controller = new AbortController();
let interrupts = 0;
const onSignal = (signal: NodeJS.Signals) => {
  interrupts++;
  // The first Ctrl-C cancels the run cleanly (in-flight calls are aborted); a second one leaves at once.
  if (interrupts > 1) process.exit(130);
  controller.abort(Object.assign(new Error(`interrupted by ${signal}`), { code: 'interrupted' }));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
// A closed terminal (or ssh session) stops the run the same way, so the commands it started are stopped too.
process.on('SIGHUP', onSignal);

const code = await main(process.argv.slice(2), { stdout: closable(process.stdout), stderr: closable(process.stderr), env: process.env, cwd: process.cwd(), signal: controller.signal });
process.exitCode = code;
// Anything still holding the event loop open (a stray socket) must not keep the CLI alive after the run.
setTimeout(() => process.exit(code), 1000).unref();

/**
 * A reader that goes away (`conductor run … | head -3`) must not stop the run: once the pipe is closed, output
 * is dropped, and the run goes on to finish, be recorded and exit with its own code. Without this, the EPIPE
 * error event kills the process mid-run and the record says `interrupted`.
 */
function closable(stream: NodeJS.WriteStream): NodeJS.WriteStream {
  let closed = false;
  stream.on('error', () => {
    closed = true;
  });
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = ((...args: unknown[]) => {
    if (closed || stream.destroyed) {
      // Honour a callback, as a write to an open stream would.
      const callback = args.find((a) => typeof a === 'function') as (() => void) | undefined;
      if (callback) queueMicrotask(callback);
      return true;
    }
    return write(...args);
  }) as typeof stream.write;
  return stream;
}
