/**
 * The floor of goal 1 (#16): what a plain Node script does for the same workflow. It parses the YAML with
 * js-yaml, reads each step's file with `fs.promises.readFile` in dependency order, 50 at once, and prints a JSON
 * summary (every step's status and output). Nothing is checked or recorded: no engine can go below this.
 * Plain JavaScript, not TypeScript: Node's type stripping would add its own start-up cost to the floor.
 *
 *   node bench/instant-floor.mjs wf.yaml [--parse-only]
 *
 * With `--parse-only` it stops after parsing: the part of the floor that `conductor validate` stands against.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { load } from 'js-yaml';

const path = resolve(process.argv[2]);
/** @type {{ steps: { id: string, file: { path: string }, depends_on?: string[] }[] }} */
const doc = load(await readFile(path, 'utf8'));
if (process.argv[3] === '--parse-only') process.exit(0);
const base = dirname(path);
const steps = doc.steps;
const index = new Map(steps.map((s, i) => [s.id, i]));
const waiting = steps.map((s) => s.depends_on?.length ?? 0);
/** @type {number[][]} */
const children = steps.map(() => []);
steps.forEach((s, i) => s.depends_on?.forEach((d) => children[index.get(d)].push(i)));
const ready = steps.flatMap((_, i) => (waiting[i] === 0 ? [i] : []));
/** @type {Record<string, { status: string, output: string }>} */
const results = {};

await new Promise((done, fail) => {
  let running = 0;
  let finished = 0;
  const pump = () => {
    if (finished === steps.length) return done();
    while (running < 50 && ready.length > 0) {
      const i = ready.pop();
      running++;
      readFile(resolve(base, steps[i].file.path), 'utf8').then((output) => {
        results[steps[i].id] = { status: 'succeeded', output };
        running--;
        finished++;
        for (const c of children[i]) if (--waiting[c] === 0) ready.push(c);
        pump();
      }, fail);
    }
  };
  pump();
});
process.stdout.write(JSON.stringify({ status: 'succeeded', steps: results }, null, 2) + '\n');
