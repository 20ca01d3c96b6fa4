import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, repoRoot, runCli } from '../helpers/cli.js';

// Exit codes are part of the CLI's contract: 0 success, 1 some input files failed (classify),
// 2 the command line or an input was wrong. Usage errors from the parser must say so with 2 too.

beforeAll(() => ensureBuilt());

describe('vitstream usage errors', () => {
  it.each([
    [['classify'], /missing required argument 'files'/],
    [['classify', 'x.mp4', '--bogus'], /unknown option '--bogus'/],
    [['infer'], /required option '--input <files...>' not specified/],
    [['serve', '--port'], /argument missing/],
    [['no-such-command'], /unknown command 'no-such-command'/],
    [['serve', 'x.mp4', '--port', '70000'], /--port: expected 0-65535, got "70000"/],
    [['bench', 'decode', 'x.mp4', '--frames', '0'], /--frames: expected a positive integer, got "0"/],
    [['bench', 'decode', '/no/such/clip.mp4'], /video source \/no\/such\/clip\.mp4: no such file/],
    [['bench', 'decode', 'package.json'], /video source package\.json: .*Invalid data found/],
    [
      ['infer', '--input', 'package.json', '--resize', 'zoom'],
      /--resize: expected squash, center-crop, letterbox, got "zoom"/,
    ],
    [
      ['--log-level', 'bogus', 'info'],
      /argument 'bogus' is invalid\. Allowed choices are silent, fatal, error, warn/,
    ],
    [
      ['calibrate', '--model', 'vit-b16-224', '--images', 'x'],
      /--weights: required, since 'vit-b16-224' is not a folder holding a \.safetensors or \.npz file/,
    ],
    // The engine flags are parsed before the model loads (no download, no GPU for a typo).
    [
      ['infer', '--input', 'package.json', '--backend', 'tpu'],
      /--backend: expected webgpu or cpu, got "tpu"/,
    ],
    [['infer', '--input', 'package.json', '--int8-mode', '3'], /--int8-mode: expected 1 or 2, got "3"/],
    [
      ['infer', '--input', 'package.json', '--max-batch', '0'],
      /--max-batch: expected a positive integer, got "0"/,
    ],
  ])('%j: exit 2 with a message, no stack trace', async (args, message) => {
    const r = await runCli(args);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.code).toBe(2);
  });

  it.each([[['--help']], [['--version']], [['classify', '--help']]])('%j: exit 0 on stdout', async (args) => {
    const r = await runCli(args);
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBeGreaterThan(0);
  });

  it('--version prints the version of package.json, not a copy of it', async () => {
    const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    const r = await runCli(['--version']);
    expect(r.stdout.trim()).toBe(pkg.version);
  });
});
