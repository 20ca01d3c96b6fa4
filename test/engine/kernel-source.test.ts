import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ATTENTION_PARAMS } from '../../src/engine/kernels/attention.js';
import { GEMM_PARAMS } from '../../src/engine/kernels/gemm.js';
import { INT8_GEMM_PARAMS } from '../../src/engine/kernels/gemm-int8.js';
import { LAYERNORM_INT8_PARAMS } from '../../src/engine/kernels/layernorm-int8.js';
import type { ParamsLayout } from '../../src/engine/kernels/params.js';
import { expandBlocks, gridStride, kernelSource, spread } from '../../src/engine/kernels/source.js';
import { packageRoot } from '../../src/util/paths.js';

/** Every .wgsl file under kernels/, fragments in kernels/lib included. */
function kernelFiles(): string[] {
  const dir = path.join(packageRoot(), 'kernels');
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.wgsl'))
    .map((f) => path.join(dir, f));
}

// The kernels' template expansion: unrolled blocks name registers (acc00, acc01, ...), so a wrong
// index silently multiplies the wrong fragment; these pin the expansion down on small texts.
describe('vitstream:unroll', () => {
  it('repeats nested blocks with {i} replaced by each index', () => {
    const text = [
      'const FM: u32 = 2u;',
      '// vitstream:unroll i < FM',
      '// vitstream:unroll j < 3',
      'a{i}{j};',
      '// vitstream:end',
      '// vitstream:end',
    ].join('\n');
    expect(expandBlocks(text, 't').split('\n').slice(1)).toEqual([
      'a00;',
      'a01;',
      'a02;',
      'a10;',
      'a11;',
      'a12;',
    ]);
  });

  it('evaluates {=EXPR} over the enclosing indices and the module consts', () => {
    const text = [
      'const ROWS: u32 = 2u;',
      'const FM = 2u * ROWS;',
      '// vitstream:unroll g < FM / ROWS',
      '// vitstream:unroll i < ROWS',
      'acc{=g * ROWS + i} t={=(g * ROWS + i) * 3 + 1}u g{g};',
      '// vitstream:end',
      '// vitstream:end',
    ].join('\n');
    expect(expandBlocks(text, 't').split('\n').slice(2)).toEqual([
      'acc0 t=1u g0;',
      'acc1 t=4u g0;',
      'acc2 t=7u g1;',
      'acc3 t=10u g1;',
    ]);
  });

  it('leaves braces that name no index alone (WGSL blocks, struct bodies)', () => {
    const text = ['// vitstream:unroll i < 1', 'if (x) { y{i} = {k}; }', '// vitstream:end'].join('\n');
    expect(expandBlocks(text, 't')).toBe('if (x) { y0 = {k}; }');
  });

  it('names the kernel and the problem when a block is unclosed or a count unknown', () => {
    expect(() => expandBlocks('// vitstream:unroll i < 2\nx;', 'k1')).toThrow(
      /kernel k1: unclosed vitstream:unroll at line 1$/,
    );
    expect(() => expandBlocks('// vitstream:unroll i < NOPE\nx;\n// vitstream:end', 'k2')).toThrow(
      /kernel k2: .*no const NOPE/,
    );
    expect(() => expandBlocks('a{=1 + NOPE};', 'k3')).toThrow(/kernel k3: .*no const NOPE/);
  });

  it('expands the INT8 tensor-core GEMM so that every fragment is finished once, in order', () => {
    const src = kernelSource('gemm_int8_subgroup_matrix', {
      params: INT8_GEMM_PARAMS,
      consts: {
        SG_M: 2,
        SG_N: 4,
        FM: 4,
        FN: 4,
        BK: 64,
        STAGES: 1,
        SLOTS: 2,
        SLOTS_IN_TILE: 0,
        EPI_ROWS: 2,
      },
    });
    const calls = [...src.matchAll(/finish\(acc(\d)(\d), sg, lane, (\d+)u,/g)].map((m) => [
      Number(m[1]),
      Number(m[2]),
      Number(m[3]),
    ]);
    const expected = [];
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) expected.push([i, j, i * 4 + j]);
    expect(calls).toEqual(expected);
    expect(src).not.toMatch(/\{=|\{[a-z]\}/);
  });
});

describe('vitstream:if', () => {
  const text = (flag: number) =>
    [
      `const WIDE: u32 = ${flag}u;`,
      '// vitstream:if WIDE',
      'alias GV = vec4<u32>;',
      '// vitstream:else',
      'alias GV = vec4<f16>;',
      '// vitstream:end',
      '// vitstream:if !WIDE',
      'narrow();',
      '// vitstream:end',
    ].join('\n');

  it('keeps the first part when the condition is not 0, the else part otherwise', () => {
    expect(expandBlocks(text(1), 't').split('\n').slice(1)).toEqual(['alias GV = vec4<u32>;']);
    expect(expandBlocks(text(0), 't').split('\n').slice(1)).toEqual(['alias GV = vec4<f16>;', 'narrow();']);
  });

  it('nests with unroll, whose indices it can test', () => {
    const src = [
      '// vitstream:unroll i < 3',
      '// vitstream:if i % 2',
      'odd{i};',
      '// vitstream:else',
      '// vitstream:unroll j < i + 1',
      'even{i}{j};',
      '// vitstream:end',
      '// vitstream:end',
      '// vitstream:end',
    ].join('\n');
    expect(expandBlocks(src, 't').split('\n')).toEqual(['even00;', 'odd1;', 'even20;', 'even21;', 'even22;']);
  });

  it('names the kernel, the problem and the line of a misplaced else or end', () => {
    expect(() => expandBlocks('// vitstream:if 1\nx;', 'k1')).toThrow(
      /kernel k1: unclosed vitstream:if at line 1$/,
    );
    expect(() => expandBlocks('x;\n// vitstream:end', 'k2')).toThrow(
      /kernel k2: vitstream:end without an open block at line 2$/,
    );
    expect(() =>
      expandBlocks('// vitstream:unroll i < 2\n// vitstream:else\n// vitstream:end', 'k3'),
    ).toThrow(/kernel k3: vitstream:else without its vitstream:if at line 2$/);
    expect(() =>
      expandBlocks('// vitstream:if 1\n// vitstream:else\n// vitstream:else\n// vitstream:end', 'k4'),
    ).toThrow(/kernel k4: vitstream:else without its vitstream:if at line 3$/);
    expect(() => expandBlocks('// vitstream:if NOPE\n// vitstream:end', 'k5')).toThrow(
      /kernel k5: .*no const NOPE/,
    );
  });

  it('leaves no unroll standing in for an if: every unrolled index is used in its body', () => {
    for (const file of kernelFiles()) {
      const lines = readFileSync(file, 'utf8').split('\n');
      lines.forEach((line, i) => {
        const m = /\/\/ vitstream:unroll (\w+) </.exec(line);
        if (!m) return;
        let depth = 1;
        let j = i + 1;
        for (; depth > 0; j++) {
          if (/\/\/ vitstream:(unroll|if)\b/.test(lines[j])) depth++;
          else if (/\/\/ vitstream:end\b/.test(lines[j])) depth--;
        }
        const body = lines.slice(i + 1, j - 1).join('\n');
        expect(body, `${file}:${i + 1}`).toMatch(new RegExp(`\\{${m[1]}\\}|\\{=[^}]*\\b${m[1]}\\b`));
      });
    }
  });
});

describe('vitstream:include', () => {
  const PARAMS: Record<string, ParamsLayout> = {
    gemm: GEMM_PARAMS,
    gemm_int8: INT8_GEMM_PARAMS,
    layernorm_int8: LAYERNORM_INT8_PARAMS,
    attention: ATTENTION_PARAMS,
  };
  it('expands includes inside included files', () => {
    // gemm_int8 includes epilogue_int8, which includes int8_pack; the others include int8_pack
    // directly. Each shared function must come out exactly once.
    for (const kernel of ['gemm_int8', 'layernorm_int8', 'attention']) {
      const text = kernelSource(kernel, { params: PARAMS[kernel] });
      expect(text.match(/^fn quantize4\(/gm), kernel).toHaveLength(1);
      expect(text.match(/^fn unpack4\(/gm), kernel).toHaveLength(1);
      expect(text, kernel).not.toMatch(/^\/\/ vitstream:include/m);
    }
    // Both GEMM epilogues include gelu_tanh.wgsl.
    for (const kernel of ['gemm', 'gemm_int8'])
      expect(kernelSource(kernel, { params: PARAMS[kernel] }).match(/^fn geluTanh\(/gm), kernel).toHaveLength(
        1,
      );
  });
});

// The dispatch limit comes from the device, in one place: a small limit shows the split.
describe('dispatch sizes', () => {
  const device = { limits: { maxComputeWorkgroupsPerDimension: 10 } } as GPUDevice;
  it('spreads a 1-D count over x and y within the device limit', () => {
    expect(spread(device, 7)).toEqual([7, 1, 1]);
    expect(spread(device, 25)).toEqual([10, 3, 1]);
    expect(spread(device, 0)).toEqual([1, 1, 1]);
    expect(spread(device, 1000)).toEqual([10, 10, 1]);
  });
  it('caps grid-stride kernels at a few rows of the limit', () => {
    expect(gridStride(device, 25)).toEqual([10, 3, 1]);
    expect(gridStride(device, 1000)).toEqual([10, 4, 1]);
    expect(gridStride(device, 1000, 16)).toEqual([10, 10, 1]);
  });
});
