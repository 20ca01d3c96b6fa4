import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

// The house rules of issue #24, read from the import statements themselves: no cycles between
// files or between rooms, and the engine stays below everything that feeds or uses it.
const ROOT = normalize(join(import.meta.dirname, '..', '..'));
const TREES = ['src', 'pipelines', 'bench'];

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== 'public' && name !== 'node_modules') out.push(...sourceFiles(path));
    } else if (/\.(ts|mts)$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** The room a file lives in: src/<room>/…, src/engine/int8 counts as its own room, top folders are rooms. */
function roomOf(file: string): string {
  const parts = relative(ROOT, file).split('/');
  if (parts[0] !== 'src') return parts[0];
  if (parts.length === 2) return `src/${parts[1].replace(/\.ts$/, '')}`;
  if (parts[1] === 'engine' && parts[2] === 'int8' && parts.length > 3) return 'engine/int8';
  return parts[1];
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const targets: string[] = [];
  const pattern = /(?:^|\n)\s*(?:import|export)\s(?:[^'";]*?\sfrom\s)?['"](\.{1,2}\/[^'"]+)['"]/g;
  for (const match of text.matchAll(pattern)) {
    const target = normalize(join(dirname(file), match[1])).replace(/\.js$/, '.ts');
    targets.push(target);
  }
  return targets;
}

const files = TREES.flatMap((tree) => sourceFiles(join(ROOT, tree)));
const fileEdges = new Map(files.map((f) => [f, importsOf(f)]));

function findCycle(edges: Map<string, Set<string>>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of edges.get(node) ?? []) {
      if (state.get(next) === 'open') return [...stack.slice(stack.indexOf(next)), next];
      if (!state.has(next)) {
        const cycle = visit(next);
        if (cycle) return cycle;
      }
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of edges.keys()) {
    if (!state.has(node)) {
      const cycle = visit(node);
      if (cycle) return cycle;
    }
  }
  return undefined;
}

// The public barrel re-exports every room; it is a door, not a room.
const BARREL = join(ROOT, 'src', 'index.ts');

function roomEdges(): Map<string, Set<string>> {
  const rooms = new Map<string, Set<string>>();
  for (const [file, targets] of fileEdges) {
    if (file === BARREL) continue;
    const from = roomOf(file);
    for (const target of targets) {
      const to = roomOf(target);
      if (to === from) continue;
      if (!rooms.has(from)) rooms.set(from, new Set());
      rooms.get(from)?.add(to);
    }
  }
  return rooms;
}

function offenders(from: (room: string) => boolean, to: (room: string) => boolean): string[] {
  const found: string[] = [];
  for (const [file, targets] of fileEdges) {
    if (!from(roomOf(file))) continue;
    for (const target of targets) {
      if (to(roomOf(target))) found.push(`${relative(ROOT, file)} -> ${relative(ROOT, target)}`);
    }
  }
  return found;
}

const isEngine = (room: string) => room === 'engine' || room === 'engine/int8';

describe('the import graph (issue #24)', () => {
  it('finds the source files it reads', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(files).toContain(join(ROOT, 'src', 'index.ts'));
  });

  it('has no cycle between files', () => {
    const edges = new Map([...fileEdges].map(([f, t]) => [f, new Set(t)]));
    const cycle = findCycle(edges)?.map((f) => relative(ROOT, f));
    expect(cycle, `cycle: ${cycle?.join(' -> ')}`).toBeUndefined();
  });

  it('has no cycle between rooms', () => {
    const cycle = findCycle(roomEdges());
    expect(cycle, `cycle: ${cycle?.join(' -> ')}`).toBeUndefined();
  });

  it('keeps the engine below video, operators, server, models, cli, bench, pipelines and the app layer', () => {
    const above = new Set([
      'video',
      'operators',
      'server',
      'models',
      'cli',
      'bench',
      'pipelines',
      'app',
      'sinks',
    ]);
    expect(
      offenders(isEngine, (room) => above.has(room) || (room.startsWith('src/') && room !== 'src/errors')),
    ).toEqual([]);
  });

  it('keeps video and server free of the engine', () => {
    expect(offenders((room) => room === 'video' || room === 'server', isEngine)).toEqual([]);
  });

  it('keeps the int8 engine above the float engine, never the other way', () => {
    expect(
      offenders(
        (room) => room === 'engine',
        (room) => room === 'engine/int8',
      ),
    ).toEqual([]);
  });
});
