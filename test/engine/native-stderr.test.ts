import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, repoRoot } from '../helpers/cli.js';

// filterNativeStderr swaps the process's fd 2, so it runs in a child process whose stderr the test
// chooses. fs.writeSync(2) inside fn stands for Dawn's fprintf: both go straight to fd 2.
const WARNING =
  'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.';
const script = `
  import { writeSync } from 'node:fs';
  import { DAWN_LIMIT_WARNING, filterNativeStderr } from ${JSON.stringify(path.join(repoRoot, 'dist/src/engine/native-stderr.js'))};
  process.stderr.write('before\\n');
  const r = filterNativeStderr(() => {
    writeSync(2, ${JSON.stringify(`${WARNING}\n`)});
    writeSync(2, 'a line of its own\\n');
    writeSync(2, ${JSON.stringify(`${WARNING} (and more)\n`)});
    return 42;
  }, DAWN_LIMIT_WARNING);
  process.stderr.write('after ' + r + '\\n');
`;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'vitstream-native-stderr-'));
beforeAll(ensureBuilt);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// A shell pipe (what a terminal user's `| less` or `2>&1 | tee` gives), unlike Node's own child stdio,
// which is a socket pair.
function run(stderr: 'shell-pipe' | 'socket' | number) {
  const file = path.join(tmp, 'script.mjs');
  writeFileSync(file, script);
  if (stderr === 'shell-pipe')
    return spawnSync('sh', ['-c', '"$0" "$1" 2>&1 >/dev/null | cat', process.execPath, file], {
      encoding: 'utf8',
    });
  return spawnSync(process.execPath, [file], {
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', stderr === 'socket' ? 'pipe' : stderr],
  });
}
const everything = `before\n${WARNING}\na line of its own\n${WARNING} (and more)\nafter 42\n`;

describe('filterNativeStderr', () => {
  it('drops exactly the matching lines written to fd 2 of a pipe, keeping the rest in order', () => {
    const r = run('shell-pipe');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`before\na line of its own\n${WARNING} (and more)\nafter 42\n`);
  });

  it('filters a file opened for appending; leaves other files (they may share an offset with stdout) and sockets (they cannot be reopened) alone', () => {
    const file = path.join(tmp, 'stderr.txt');
    const fd = openSync(file, 'w');
    const r = run(fd);
    closeSync(fd);
    expect(r.status).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(everything);
    // Appending (`2>>log`): every writer goes to the end, so a reopened descriptor is the same.
    const log = path.join(tmp, 'stderr.log');
    writeFileSync(log, 'earlier\n');
    const appendFd = openSync(log, 'a');
    const a = run(appendFd);
    closeSync(appendFd);
    expect(a.status).toBe(0);
    expect(readFileSync(log, 'utf8')).toBe(
      `earlier\nbefore\na line of its own\n${WARNING} (and more)\nafter 42\n`,
    );
    const s = run('socket');
    expect(s.status).toBe(0);
    expect(s.stderr).toBe(everything);
  });
});
