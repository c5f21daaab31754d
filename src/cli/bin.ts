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

const code = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), signal: controller.signal });
process.exitCode = code;
// Anything still holding the event loop open (a stray socket) must not keep the CLI alive after the run.
setTimeout(() => process.exit(code), 1000).unref();
