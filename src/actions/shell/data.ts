/**
 * Where a step's output may go in a command that no shell reads. An argument is data only to a program that
 * treats it as data: the program itself, an interpreter's inline code (`bash -c`, `python -c`, `node -e`), the
 * script an interpreter runs (`python3 ${x}`), the program a wrapper starts (`env`, `sudo`, `xargs`, `find
 * -exec`) and the variables that choose what runs (`PATH`, `LD_PRELOAD`, `BASH_ENV`) are code — a model's answer
 * may not be any of them (checked from the block as written, before anything runs). And a value that starts with
 * `-` where a word starts would be read as an option (`--output=/etc/…`): refused when the step runs, unless a
 * literal `--` came first.
 */
import { basename } from 'node:path';

/** A word of the command as written: literal text, and references (by index) where values go. */
export type WrittenWord = readonly (string | number)[];

/** How an interpreter takes code on its command line: the options that take it, and whether a script path does too. */
interface Interpreter {
  /** An option whose next word is code (`-c`), also inside a cluster of short flags (`-ec`). */
  inline: RegExp;
  /** Its first argument that is not an option is the program text itself (awk, sed), not a file. */
  programFirst?: boolean;
}

const SHELL_LIKE: Interpreter = { inline: /^-[A-Za-z]*c$/ };
const INTERPRETERS: readonly [RegExp, Interpreter][] = [
  [/^(sh|bash|dash|zsh|ksh|mksh|yash|fish|ash|busybox)$/, SHELL_LIKE],
  [/^(python|pypy)[0-9.]*$/, { inline: /^-[A-Za-z]*c$/ }],
  [/^(node|nodejs|bun)$/, { inline: /^(-[A-Za-z]*[ep]|--eval|--print)$/ }],
  [/^deno$/, { inline: /^eval$/ }],
  [/^perl[0-9.]*$/, { inline: /^-[A-Za-z]*[eE]$/ }],
  [/^ruby[0-9.]*$/, { inline: /^-[A-Za-z]*e$/ }],
  [/^php[0-9.]*$/, { inline: /^-[A-Za-z]*r$/ }],
  [/^(lua|luajit)[0-9.]*$/, { inline: /^-e$/ }],
  [/^(Rscript|osascript)$/, { inline: /^-e$/ }],
  [/^(pwsh|powershell)(\.exe)?$/, { inline: /^-(c|command|encodedcommand|e|ec)$/i }],
  [/^(tclsh|wish|expect)[0-9.]*$/, { inline: /^-c$/ }],
  [/^(awk|gawk|mawk|nawk)$/, { inline: /^(-e|--source)$/, programFirst: true }],
  [/^(sed|gsed)$/, { inline: /^(-e|--expression)$/, programFirst: true }],
];
/**
 * Programs that start another program: what they start is the program that matters, and every word up to it
 * (their options, an option's value, a user, a host) is theirs: a step's output may be none of them. For each,
 * its options that take the next word as their value, and how many words it takes before the program.
 */
const WRAPPERS: Readonly<Record<string, { values?: RegExp; before?: number }>> = {
  env: { values: /^-(u|C|S|-unset|-chdir|-split-string)$/ },
  sudo: { values: /^-[ugCDhprtU]$/ },
  doas: { values: /^-[uC]$/ },
  nohup: {},
  timeout: { values: /^-[sk]$/, before: 1 },
  nice: { values: /^-n$/ },
  ionice: { values: /^-[cnp]$/ },
  stdbuf: { values: /^-[ioe]$/ },
  setsid: {},
  time: { values: /^-[fo]$/ },
  xargs: { values: /^-[IndPELsa]$/ },
  exec: { values: /^-a$/ },
  command: {},
  chroot: { before: 1 },
  watch: { values: /^-[nd]$/ },
  flock: { values: /^-[wE]$/, before: 1 },
  strace: { values: /^-[eoOpsSuPU]$/ },
  ltrace: { values: /^-[eoOpsSuPU]$/ },
  taskset: { before: 1 },
  chrt: { before: 1 },
  unbuffer: {},
  parallel: {},
  runuser: { values: /^-[ugc]$/ },
};
/** Programs whose words after a first argument (a host) are one command line a shell elsewhere reads. */
const REMOTE = /^(ssh|su|rsh)$/;
/** `find`'s options whose following words are a command. */
const FIND_EXEC = /^-(exec|execdir|ok|okdir)$/;

/** Environment variables whose value chooses what runs (or what it loads), whatever the program. */
export const CODE_VARIABLES = /^(PATH|IFS|ENV|BASH_ENV|CDPATH|SHELLOPTS|BASHOPTS|PS4|PROMPT_COMMAND|GLOBIGNORE|PYTHONPATH|PYTHONSTARTUP|PYTHONHOME|PYTHONINSPECT|NODE_OPTIONS|NODE_PATH|PERL5OPT|PERL5LIB|PERLLIB|RUBYOPT|RUBYLIB|LUA_INIT|LUA_PATH|LUA_CPATH|JAVA_TOOL_OPTIONS|_JAVA_OPTIONS|CLASSPATH|EDITOR|VISUAL|PAGER|BROWSER|SHELL|LESSOPEN|LESSCLOSE|MANPAGER|GIT_.*|LD_.*|DYLD_.*|BASH_FUNC_.*)$/;

/** A word written without references, as text; undefined when a value goes into it (or there is no word). */
export function literalWord(word: WrittenWord | undefined): string | undefined {
  return word && word.every((p) => typeof p === 'string') ? word.join('') : undefined;
}

/** Why a step's output in word `w` would be code, or undefined when it is an argument a program reads as data. */
export function codePosition(words: readonly WrittenWord[], isData: (ref: number) => boolean): { word: number; why: string } | undefined {
  const hasData = (w: number) => words[w]!.some((p) => typeof p === 'number' && isData(p));
  const literal = (w: number) => literalWord(words[w]);
  if (words.length === 0) return undefined;
  if (hasData(0)) return { word: 0, why: 'the program to run' };
  let program = literal(0);
  let w = 1;
  // Wrappers first (`sudo -u me nice -n 5 python3 -c …`): what they start is the program that matters.
  for (let wrapper = program && WRAPPERS[basename(program)]; wrapper && program !== undefined; wrapper = program && WRAPPERS[basename(program)]) {
    const name = basename(program);
    let positional = 0;
    for (; w < words.length; w++) {
      if (hasData(w)) return { word: w, why: `a word of \`${name}\`, which starts another program` };
      const text = literal(w)!;
      if (wrapper.values?.test(text)) {
        w++; // and its value
        continue;
      }
      if (text.startsWith('-') || (name === 'env' && /^[A-Za-z_][A-Za-z0-9_]*=/.test(text))) continue;
      if (positional++ < (wrapper.before ?? 0)) continue;
      break;
    }
    if (w >= words.length) return undefined;
    program = literal(w);
    w++;
  }
  if (program !== undefined && REMOTE.test(basename(program))) {
    // `ssh host cmd…`, `su -c cmd user`: the words become a command line a shell reads, on the other side.
    for (let k = w; k < words.length; k++) if (hasData(k)) return { word: k, why: `part of a command \`${basename(program)}\` has a shell run` };
    return undefined;
  }
  if (program === undefined) return undefined;
  const name = basename(program);
  if (name === 'find') {
    for (let k = w; k < words.length; k++) {
      const text = literal(k);
      if (text !== undefined && FIND_EXEC.test(text)) {
        for (let j = k + 1; j < words.length && literal(j) !== ';' && literal(j) !== '+'; j++) if (hasData(j)) return { word: j, why: `the command \`find ${text}\` runs` };
      }
    }
    return undefined;
  }
  const interpreter = INTERPRETERS.find(([pattern]) => pattern.test(name))?.[1];
  if (!interpreter) return undefined;
  for (let k = w; k < words.length; k++) {
    const text = literal(k);
    if (text !== undefined && interpreter.inline.test(text)) {
      if (k + 1 < words.length && hasData(k + 1)) return { word: k + 1, why: `the code \`${name} ${text}\` runs` };
      return undefined; // inline code given: later words are its arguments
    }
    if (text !== undefined && text.startsWith('-')) continue;
    // The first word that is not an option: the script (or program text) it runs, unless it is written out.
    if (hasData(k)) return { word: k, why: interpreter.programFirst ? `the program \`${name}\` runs` : `the script \`${name}\` runs` };
    return undefined;
  }
  return undefined;
}

/**
 * The first word a value from data starts with `-`, when no literal `--` came before it: the program would read
 * it as an option. `words[k]` is the word's parts (literal text or a value's index), `values` the values.
 */
export function optionFromData(words: readonly WrittenWord[], values: readonly string[], isData: (ref: number) => boolean): { word: number; value: string } | undefined {
  for (let k = 1; k < words.length; k++) {
    const parts = words[k]!;
    if (parts.length === 1 && parts[0] === '--') return undefined;
    // A word that starts with a value (literal text before it would fix the start).
    let first: string | number | undefined;
    for (const p of parts) {
      if (p === '') continue;
      first = p;
      break;
    }
    if (typeof first === 'number' && isData(first) && values[first]!.startsWith('-')) return { word: k, value: values[first]! };
  }
  return undefined;
}
