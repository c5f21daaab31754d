/**
 * Loaded with `--import` into a CLI process under test: records the URL of every module the process loads and
 * writes the list to the file named by CONDUCTOR_TEST_MODULES when it exits.
 */
import { writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const loaded: string[] = [];
registerHooks({
  resolve(specifier, context, nextResolve) {
    const result = nextResolve(specifier, context);
    loaded.push(result.url);
    return result;
  },
});
process.on('exit', () => writeFileSync(process.env['CONDUCTOR_TEST_MODULES']!, loaded.join('\n')));
