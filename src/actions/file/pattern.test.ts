import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { braceExpansions, matchesFile, mayHoldMatches, patternProblem, patternShape } from './pattern.ts';

describe('a glob pattern', () => {
  it('is relative to the workflow’s folder and never climbs out of it', () => {
    for (const ok of ['notes/*.txt', '**/*.md', './notes/a.txt', 'a..b.txt', '${inputs.dir}/*.txt', '.env', 'notes/.*']) assert.equal(patternProblem(ok), undefined, ok);
    for (const absolute of ['/etc/*', '\\\\server\\share\\*', 'C:/data/*', 'c:notes']) assert.match(patternProblem(absolute)!, /got the absolute/, absolute);
    for (const climbs of ['../*', 'notes/../../x', '..', 'notes\\..\\..\\x', '**/..', '${inputs.dir}/../*']) assert.match(patternProblem(climbs)!, /climbs out of it with `\.\.`/, climbs);
  });

  it('splits at its first segment that is not plain text: the folder before it is certain', () => {
    assert.deepEqual(patternShape('notes/*.txt'), { folder: ['notes'], rest: '*.txt', templated: false });
    assert.deepEqual(patternShape('./notes//sub/./**/*.md'), { folder: ['notes', 'sub'], rest: '**/*.md', templated: false });
    assert.deepEqual(patternShape('notes\\*.txt'), { folder: ['notes'], rest: '*.txt', templated: false }, 'a backslash separates, as in fs.glob');
    assert.deepEqual(patternShape('*.txt'), { folder: [], rest: '*.txt', templated: false });
    assert.deepEqual(patternShape('notes/a.txt'), { folder: ['notes'], rest: 'a.txt', templated: false }, 'no wildcard: the last segment is still matched');
    assert.deepEqual(patternShape('{a,b}/c/*.txt'), { folder: [], rest: '{a,b}/c/*.txt', templated: false });
    assert.deepEqual(patternShape('out/${inputs.kind}/*.txt'), { folder: ['out'], rest: '${inputs.kind}/*.txt', templated: true });
    assert.deepEqual(patternShape('.'), { folder: [], rest: '', templated: false });
  });

  it('matches files below its folder as fs.glob does: `*` stays in one folder and skips dot files', () => {
    const txt = matchesFile('*.txt');
    assert.deepEqual(['a.txt', '.a.txt', 'sub/b.txt', 'a.md'].map(txt), [true, false, false, false]);
    const deep = matchesFile('**/*.txt');
    assert.deepEqual(['a.txt', 'sub/b.txt', 'x/y/z.txt', '.hidden/c.txt', 'a.md'].map(deep), [true, true, true, false, false]);
    assert.deepEqual(['a.txt', 'b.md', 'c.csv'].map(matchesFile('*.{txt,md}')), [true, true, false]);
    assert.equal(matchesFile('')('a.txt'), false);
    // The quick check of a name's literal start and end never changes an answer.
    const report = matchesFile('**/report-*.txt');
    assert.deepEqual(['report-.txt', 'a/b/report-1.txt', 'report-1.txt.bak', 'my-report-1.txt', 'report.txt'].map(report), [true, true, false, false, false]);
    if (process.platform !== 'win32') assert.equal(matchesFile('**/ab*.txt')('x/ab\\c.txt'), true, 'on POSIX a backslash in a name is part of the name');
    assert.deepEqual(['abc', 'ac', 'abbc', 'xabc'].map(matchesFile('a?c')), [true, false, false, false]);
    assert.equal(matchesFile('notes/a.txt'), matchesFile('notes/a.txt'), 'the same rule for the same pattern, so the plan groups its readers');
  });

  it('knows which deletions could take a match away: the match itself, or a folder on the way to one', () => {
    // `top.csv` could be a folder holding `data/x.csv`: only its name is known.
    const one = mayHoldMatches('*/data/*.csv');
    assert.deepEqual(['a', 'a/data', 'a/data/x.csv', 'a/other', 'a/data/x.csv/deeper', 'top.csv', '.hidden'].map(one), [true, true, true, false, false, true, false]);
    const deep = mayHoldMatches('**/*.txt');
    assert.deepEqual(['anything', 'a/b/c'].map(deep), [true, true]);
    assert.equal(mayHoldMatches('{a,b/c}/*.txt')('zzz'), true, 'braces may hold a separator: the safe answer');
  });
});

describe('brace expansions', () => {
  it('counts what `{…}` groups and ranges expand to, and refuses past 256 (fs.glob expands them all, synchronously)', () => {
    const counts = ['notes/*.txt', '{a,b}/{c,d,e}', '{a,{b,c}}', '{1..100}', '{a..e}{1..3}'].map(braceExpansions);
    assert.deepEqual(counts, [1, 6, 3, 100, 15]);
    assert.equal(patternProblem('{1..100}/*.md'), undefined);
    assert.match(patternProblem(`**/${'{a,b,c,d,e,f,g,h,i,j}*'.repeat(3)}`)!, /expands to 1,000 patterns through its `\{…\}` groups, more than 256/);
    assert.match(patternProblem('x'.repeat(2000))!, /at most 1024 characters/);
  });
});
