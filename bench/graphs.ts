/** Benchmark graphs: shapes fixed by a seed, so every run (and every runner in a run) sees the same ones. */

export interface BenchGraph {
  name: string;
  /** Duration of each step in ms (0: instant). */
  durations: number[];
  /** deps[i]: the steps i waits for (all earlier in the list). */
  deps: number[][];
  limit: number;
}

/** Mulberry32: small, fast, good enough to fix shapes by seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Scenario 1: parallel chains whose steps alternate 10 ms and 100 ms, offset so each level mixes both. */
export function barrierTrap(chains = 8, length = 10, limit = 8): BenchGraph {
  const durations: number[] = [];
  const deps: number[][] = [];
  for (let c = 0; c < chains; c++) {
    for (let k = 0; k < length; k++) {
      durations.push((k + c) % 2 === 0 ? 10 : 100);
      deps.push(k === 0 ? [] : [durations.length - 2]);
    }
  }
  return { name: `barrier trap (${chains} chains × ${length}, limit ${limit})`, durations, deps, limit };
}

/** Scenario 2: many short independent steps declared before a long chain; FIFO starves the chain. */
export function starvation(shorts = 24, chain = 6, limit = 4, ms = 100): BenchGraph {
  const durations = Array.from({ length: shorts + chain }, () => ms);
  const deps = durations.map((_, i) => (i > shorts ? [i - 1] : []));
  return { name: `critical-path starvation (${shorts} short + ${chain}-chain, limit ${limit})`, durations, deps, limit };
}

/**
 * Scenario 3: an LLM-like random DAG: each step depends on up to 3 earlier ones (nearby ones more often,
 * which gives long chains), durations heavy-tailed between `min` and `max` ms (Pareto, α = 1.5: most steps
 * are short, a few take seconds, as with LLM calls).
 */
export function randomDag(n: number, limit: number, seed: number, min = 50, max = 2000): BenchGraph {
  const random = rng(seed);
  const durations: number[] = [];
  const deps: number[][] = [];
  for (let i = 0; i < n; i++) {
    durations.push(Math.round(Math.min(max, min / Math.pow(1 - random() * 0.999, 1 / 1.5))));
    const count = i === 0 ? 0 : Math.floor(random() * 4);
    const chosen = new Set<number>();
    for (let k = 0; k < count; k++) chosen.add(Math.max(0, i - 1 - Math.floor(Math.pow(random(), 2) * Math.min(i, 50))));
    deps.push([...chosen].sort((a, b) => a - b));
  }
  return { name: `random DAG ${n} steps, limit ${limit}, seed ${seed}`, durations, deps, limit };
}

/** Scenario 4: instant steps in a random DAG (each depends on up to 2 earlier ones). */
export function instantDag(n: number, seed = 7): BenchGraph {
  const random = rng(seed);
  const deps = Array.from({ length: n }, (_, i) => {
    if (i === 0) return [];
    const set = new Set<number>();
    for (let k = Math.floor(random() * 3); k > 0; k--) set.add(Math.floor(random() * i));
    return [...set].sort((a, b) => a - b);
  });
  return { name: `${n} instant steps`, durations: deps.map(() => 0), deps, limit: 16 };
}

/** Scenario 5: 1 → n → 1. */
export function fanOut(n = 2000, ms = 20, limit = 100): BenchGraph {
  const durations = Array.from({ length: n + 2 }, () => ms);
  const deps = durations.map((_, i) => (i === 0 ? [] : i <= n ? [0] : Array.from({ length: n }, (_, k) => k + 1)));
  return { name: `fan-out/fan-in 1 → ${n} → 1 (${ms} ms, limit ${limit})`, durations, deps, limit };
}

/** A chain of `n` steps of `ms` each, one after another: what each hop from one step to the next costs. */
export function chain(n = 50, ms = 0): BenchGraph {
  return { name: `chain of ${n} × ${ms} ms`, durations: Array.from({ length: n }, () => ms), deps: Array.from({ length: n }, (_, i) => (i === 0 ? [] : [i - 1])), limit: 1 };
}
