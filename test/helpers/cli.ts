import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sharedPath } from './shared.js';

/**
 * The CLI as a user runs it: `node dist/src/cli/main.js …` in a child process.
 *
 * The e2e tests run the compiled CLI, not the TypeScript. In CI `npm ci` runs `prepare` (tsc), so
 * dist/ is there; locally `ensureBuilt()` recompiles once when a source file is newer than the last
 * build, so a test never runs yesterday's CLI. tsc (TypeScript 7) takes about a second here. Test
 * files run in parallel workers, so the build is guarded by a lock directory.
 */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** VITSTREAM_CLI runs the tests against another build (say, a clean checkout of a commit). */
export const cliPath = process.env.VITSTREAM_CLI ?? path.join(repoRoot, 'dist/src/cli/main.js');
const STAMP = path.join(repoRoot, 'dist/.e2e-build-stamp');
const LOCK = path.join(
  os.tmpdir(),
  `vitstream-e2e-build-${Buffer.from(repoRoot).toString('hex').slice(-24)}.lock`,
);

function newestSource(dir: string): number {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function isStale(): boolean {
  if (!existsSync(cliPath) || !existsSync(STAMP)) return true;
  const built = statSync(STAMP).mtimeMs;
  return ['src', 'pipelines'].some((d) => newestSource(path.join(repoRoot, d)) > built);
}

export function ensureBuilt(): void {
  if (process.env.VITSTREAM_CLI || !isStale()) return;
  for (let waited = 0; ; waited += 100) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      // Another worker is building; a lock older than two minutes is left over from a crash.
      if (existsSync(LOCK) && Date.now() - statSync(LOCK).mtimeMs > 120_000)
        rmSync(LOCK, { recursive: true, force: true });
      if (waited > 120_000) throw new Error(`ensureBuilt: timed out waiting for ${LOCK}`);
      sleepSync(100);
    }
  }
  try {
    if (!isStale()) return;
    const started = Date.now();
    const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: repoRoot, encoding: 'utf8' });
    // tsc emits even when some file has a type error; the build is usable unless main.js is missing.
    if (r.status !== 0)
      console.warn(
        `ensureBuilt: tsc reported errors (tests go on with what it emitted):\n${r.stdout}${r.stderr}`,
      );
    if (!existsSync(cliPath))
      throw new Error(`ensureBuilt: ${cliPath} missing after tsc:\n${r.stdout}${r.stderr}`);
    writeFileSync(STAMP, new Date(started).toISOString());
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** A file piped to the CLI's standard input (else its stdin is closed at once). */
  stdinFile?: string;
}

/** Runs the CLI to completion; a run over `timeoutMs` is killed and rejected. */
export function runCli(args: string[], o: RunOptions = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [cliPath, ...args], {
    cwd: o.cwd ?? repoRoot,
    env: o.env ?? process.env,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  // The CLI may stop reading early (an error): its closed pipe is not the test's failure.
  child.stdin.on('error', () => {});
  if (o.stdinFile) createReadStream(o.stdinFile).pipe(child.stdin);
  else child.stdin.end();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`vitstream ${args.join(' ')}: still running after ${o.timeoutMs} ms\n${stderr}`));
    }, o.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `re` in stderr; rejects if the process exits first or on timeout. */
  waitForStderr(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL if still running (test cleanup). */
  kill(): void;
}

/** Starts a long-running command (serve) and lets the test watch its stderr. */
export function startCli(args: string[], o: RunOptions = {}): CliProcess {
  const child = spawn(process.execPath, [cliPath, ...args], {
    cwd: o.cwd ?? repoRoot,
    env: o.env ?? process.env,
  });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    err += s;
    for (const l of listeners) l();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      for (const l of listeners) l();
      resolve({ code, signal });
    }),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
    waitForStderr(re, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = err.match(re);
          if (m) return done(() => resolve(m));
          if (child.exitCode !== null || child.signalCode !== null)
            done(() =>
              reject(
                new Error(
                  `process exited (${child.exitCode ?? child.signalCode}) before stderr matched ${re}:\n${err}`,
                ),
              ),
            );
        };
        const timer = setTimeout(
          () => done(() => reject(new Error(`stderr did not match ${re} within ${timeoutMs} ms:\n${err}`))),
          timeoutMs,
        );
        const done = (f: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          f();
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** The trained CIFAR-10 demo checkpoint in the shared folder (32x32 input, 10 classes). */
export function cifarModel() {
  const dir = sharedPath('models', 'vit-cifar10-demo');
  return {
    dir,
    args: ['--model', dir, '--weights', path.join(dir, 'model.safetensors')],
    file: (name: string) => sharedPath('models', 'vit-cifar10-demo', name),
  };
}

/** ffprobe's view of a clip's video stream, independent of vitstream: every frame's time in ms. */
export function probeFrameTimes(file: string): number[] {
  const json = execFileSync(
    'ffprobe',
    [
      '-v',
      'error',
      '-select_streams',
      'v:0',
      '-show_entries',
      'frame=best_effort_timestamp_time',
      '-of',
      'json',
      file,
    ],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  const frames = (JSON.parse(json) as { frames: { best_effort_timestamp_time: string }[] }).frames;
  return frames.map((f) => Number(f.best_effort_timestamp_time) * 1000);
}

/** PIDs of the direct children of `pid` named `name` (pgrep), e.g. the ffmpeg decoders of a serve. */
export function childPids(pid: number, name: string): number[] {
  const r = spawnSync('pgrep', ['-P', String(pid), '-x', name], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).map(Number);
}

/** Running (a zombie, exited but not yet reaped by whoever adopted it, counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
