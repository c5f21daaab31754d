/**
 * The docs cannot drift: the generated reference equals what `npm run docs` makes, every variable the code reads
 * is documented, every YAML block in README.md and docs/ is a valid workflow (or the part of one its fence says),
 * and every relative link leads to a file and heading that exist.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { ENVIRONMENT, NOT_SETTINGS } from '../src/cli/environment.ts';
import { checkWorkflow } from '../src/definition/load.ts';
import { DOCS_BY_CODE, docsFor } from '../src/report/docs.ts';
import { COMMANDS } from '../src/cli/main.ts';
import { generateDocs, ROOT } from '../scripts/docs/generate.ts';

async function files(dir: string, test: (name: string) => boolean): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    if (entry.isFile() && test(entry.name) && !relative(ROOT, path).split('/').some((part) => part === 'node_modules' || part.startsWith('.'))) found.push(path);
  }
  return found.sort();
}

const pages = async () => [join(ROOT, 'README.md'), ...(await files(join(ROOT, 'docs'), (name) => name.endsWith('.md')))];

interface Block {
  page: string;
  line: number;
  info: string[];
  text: string;
}

/** Fenced code blocks, with the line their text starts on. */
function blocksOf(page: string, text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const [, indent, fence, info] = open;
    let end = i + 1;
    while (end < lines.length && !lines[end]!.trimStart().startsWith(fence!)) end++;
    blocks.push({ page, line: i + 2, info: info!.trim().split(/\s+/).filter(Boolean), text: lines.slice(i + 1, end).map((l) => l.slice(indent!.length)).join('\n') });
    i = end;
  }
  return blocks;
}

/** A block as a whole workflow, per its fence: `yaml` is one, `yaml steps` a list of steps, `yaml config` config keys. */
function asWorkflow(block: Block): string | undefined {
  const indent = (text: string) => text.split('\n').map((l) => (l === '' ? l : `  ${l}`)).join('\n');
  switch (block.info[1]) {
    case undefined:
      return block.text;
    case 'steps':
      return `steps:\n${indent(block.text)}\n`;
    case 'config':
      return `config:\n${indent(block.text)}\nsteps:\n  - { id: a, llm: { prompt: hi } }\n`;
    case 'other':
      return undefined;
    default:
      throw new Error(`${relative(ROOT, block.page)}:${block.line - 1}: \`\`\`${block.info.join(' ')}: expected \`yaml\`, \`yaml steps\`, \`yaml config\` or \`yaml other\``);
  }
}

describe('the docs', () => {
  it('generated parts are what `npm run docs` makes from the definitions', async () => {
    for (const [file, text] of await generateDocs()) {
      assert.equal(await readFile(join(ROOT, file), 'utf8'), text, `${file} is out of date: run \`npm run docs\` and commit the result`);
    }
  });

  it('every environment variable the code reads is in the documented list', async () => {
    const documented = new Set(ENVIRONMENT.map((v) => v.name));
    const read = new Map<string, string>();
    for (const file of await files(join(ROOT, 'src'), (name) => name.endsWith('.ts') && !name.endsWith('.test.ts'))) {
      // Comments name variables in passing; a name inside a message (`env["NAME"]`) follows a quote.
      const text = (await readFile(file, 'utf8')).replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
      for (const m of text.matchAll(/(?<![`'"])\benv\[['"]([A-Z][A-Z0-9_]*)['"]\]|\bprocess\.env\.([A-Z][A-Z0-9_]*)|\b(CONDUCTOR_[A-Z0-9_]*[A-Z0-9])\b/g)) {
        const name = m[1] ?? m[2] ?? m[3]!;
        if (!read.has(name)) read.set(name, relative(ROOT, file));
      }
    }
    // CONDUCTOR_ARG_<n> is how a shell script receives its values (shell.md), not a setting.
    const missing = [...read].filter(([name]) => !documented.has(name) && !NOT_SETTINGS.includes(name) && !name.startsWith('CONDUCTOR_ARG'));
    assert.deepEqual(missing, [], 'read by the code but not in src/cli/environment.ts (add it there, then `npm run docs`)');
    const unread = [...documented].filter((name) => !read.has(name));
    assert.deepEqual(unread, [], 'documented in src/cli/environment.ts but read nowhere');
  });

  it('every YAML block in README.md and docs/ is a valid workflow, or the part its fence names', async () => {
    let checked = 0;
    for (const page of await pages()) {
      for (const block of blocksOf(page, await readFile(page, 'utf8'))) {
        if (block.info[0] !== 'yaml' && block.info[0] !== 'yml') continue;
        const where = `${relative(ROOT, page)}:${block.line}`;
        const workflow = asWorkflow(block);
        if (workflow === undefined) {
          assert.doesNotThrow(() => parse(block.text), `${where}: not YAML`);
          continue;
        }
        const result = checkWorkflow(workflow, join(dirname(page), 'block.yaml'), { baseDir: dirname(page) });
        const problems = result.diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`);
        assert.deepEqual(problems, [], `${where}: the block (\`\`\`${block.info.join(' ')}) is not a valid workflow`);
        checked++;
      }
    }
    assert.ok(checked >= 20, `only ${checked} workflow blocks found`);
  });

  it('every table row has the cells of its header (a `|` inside code splits a cell on GitHub: escape it)', async () => {
    const bad: string[] = [];
    for (const page of await pages()) {
      const lines = (await readFile(page, 'utf8')).replace(/```[\s\S]*?```/g, (block) => block.replace(/[^\n]/g, '')).split('\n');
      let columns = 0;
      for (const [i, line] of lines.entries()) {
        if (!line.startsWith('|')) {
          columns = 0;
          continue;
        }
        const cells = line.replace(/\\\|/g, '').split('|').length - 2;
        if (columns === 0) columns = cells;
        else if (cells !== columns) bad.push(`${relative(ROOT, page)}:${i + 1}: ${cells} cells, the header has ${columns}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  it('every command that prints JSON names the types it prints (docs/cli.md quotes them)', async () => {
    for (const [name, load] of Object.entries(COMMANDS)) {
      const command = await load();
      if ('json' in command.options || 'format' in command.options) assert.ok(command.jsonShape?.length, `conductor ${name} prints JSON but has no jsonShape`);
    }
  });

  it('every error code failures.md lists has a docs page the CLI points to', async () => {
    const text = await readFile(join(ROOT, 'docs/failures.md'), 'utf8');
    const table = text.slice(text.indexOf('| `errorCode` |'), text.indexOf('\n\n', text.indexOf('| `errorCode` |')));
    const codes = [...table.matchAll(/^\| ([^|]+) \|/gm)].flatMap((m) => [...m[1]!.matchAll(/`([a-z_]+)`/g)].map((c) => c[1]!)).filter((c) => c !== 'errorCode');
    assert.ok(codes.length >= 20, `found ${codes.length} codes`);
    assert.deepEqual(codes.filter((code) => !docsFor(code)), []);
  });

  it('every relative link leads to a file, and a #heading to a heading of that page', async () => {
    const broken: string[] = [];
    const anchors = new Map<string, Set<string>>();
    const anchorsOf = async (file: string) => {
      if (!anchors.has(file)) anchors.set(file, headingAnchors(await readFile(file, 'utf8')));
      return anchors.get(file)!;
    };
    // The pages error messages point at (src/report/docs.ts), as links from the package's root.
    const fromCode = Object.values(DOCS_BY_CODE).map((page) => ({ page: join(ROOT, 'package.json'), link: page }));
    // And the page each command's --help points to.
    const fromHelp = Object.keys(COMMANDS).map((name) => ({ page: join(ROOT, 'package.json'), link: `docs/cli.md#conductor-${name}` }));
    const links = [...fromCode, ...fromHelp];
    for (const page of await pages()) {
      const text = (await readFile(page, 'utf8')).replace(/```[\s\S]*?```/g, '');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) links.push({ page, link: m[1]! });
    }
    for (const { page, link } of links) {
      if (/^[a-z]+:/.test(link)) continue;
      const [path, anchor] = link.split('#') as [string, string | undefined];
      const target = path === '' ? page : resolve(dirname(page), path);
      const exists = await readFile(target).then(() => true, (e) => e.code === 'EISDIR');
      if (!exists) broken.push(`${relative(ROOT, page)}: ${link} (no such file)`);
      else if (anchor && target.endsWith('.md') && !(await anchorsOf(target)).has(anchor)) broken.push(`${relative(ROOT, page)}: ${link} (no such heading)`);
    }
    assert.deepEqual(broken, []);
  });
});

/** The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as `-`, repeats numbered. */
function headingAnchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of text.replace(/```[\s\S]*?```/g, '').matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
    const slug = m[1]!.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/ /g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  for (const m of text.matchAll(/<a id="([^"]+)"/g)) out.add(m[1]!);
  return out;
}
