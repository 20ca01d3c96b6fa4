import { describe, expect, it } from 'vitest';
import { kernelSource, unroll } from '../../src/engine/kernels/source.js';

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
    expect(unroll(text, 't').split('\n').slice(1)).toEqual(['a00;', 'a01;', 'a02;', 'a10;', 'a11;', 'a12;']);
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
    expect(unroll(text, 't').split('\n').slice(2)).toEqual([
      'acc0 t=1u g0;',
      'acc1 t=4u g0;',
      'acc2 t=7u g1;',
      'acc3 t=10u g1;',
    ]);
  });

  it('leaves braces that name no index alone (WGSL blocks, struct bodies)', () => {
    const text = ['// vitstream:unroll i < 1', 'if (x) { y{i} = {k}; }', '// vitstream:end'].join('\n');
    expect(unroll(text, 't')).toBe('if (x) { y0 = {k}; }');
  });

  it('names the kernel and the problem when a block is unclosed or a count unknown', () => {
    expect(() => unroll('// vitstream:unroll i < 2\nx;', 'k1')).toThrow(
      /kernel k1: unclosed vitstream:unroll at line 1/,
    );
    expect(() => unroll('// vitstream:unroll i < NOPE\nx;\n// vitstream:end', 'k2')).toThrow(
      /kernel k2: .*no const NOPE/,
    );
    expect(() => unroll('a{=1 + NOPE};', 'k3')).toThrow(/kernel k3: .*no const NOPE/);
  });

  it('expands the INT8 tensor-core GEMM so that every fragment is finished once, in order', () => {
    const src = kernelSource('gemm_int8_subgroup_matrix', {
      consts: {
        SG_M: 2,
        SG_N: 4,
        FM: 4,
        FN: 4,
        BK: 64,
        STAGES: 1,
        PROBE: 0,
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

describe('vitstream:include', () => {
  it('expands includes inside included files', () => {
    // gemm_int8 includes epilogue_int8, which includes int8_pack; the others include int8_pack
    // directly. Each shared function must come out exactly once.
    for (const kernel of ['gemm_int8', 'layernorm_int8', 'attention']) {
      const text = kernelSource(kernel, { consts: {} });
      expect(text.match(/^fn quantize4\(/gm), kernel).toHaveLength(1);
      expect(text.match(/^fn unpack4\(/gm), kernel).toHaveLength(1);
      expect(text, kernel).not.toMatch(/^\/\/ vitstream:include/m);
    }
    // Both GEMM epilogues include gelu_tanh.wgsl.
    for (const kernel of ['gemm', 'gemm_int8'])
      expect(kernelSource(kernel, { consts: {} }).match(/^fn geluTanh\(/gm), kernel).toHaveLength(1);
  });
});
