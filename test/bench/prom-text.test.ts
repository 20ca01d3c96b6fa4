import { describe, expect, it } from 'vitest';
import { parsePromText } from '../../bench/prom-text.js';

describe('parsePromText', () => {
  it('reads names, labels (quotes escaped) and values, skipping comments and odd lines', () => {
    const text = [
      '# HELP vitstream_frames_total frames',
      '# TYPE vitstream_frames_total counter',
      'vitstream_frames_total{stream="cam 1",reason="a \\"b\\""} 42',
      'process_cpu_seconds_total 1.5e2',
      'not a metric line at all {',
      '',
    ].join('\n');
    expect(parsePromText(text)).toEqual([
      { name: 'vitstream_frames_total', labels: { stream: 'cam 1', reason: 'a \\"b\\"' }, value: 42 },
      { name: 'process_cpu_seconds_total', labels: {}, value: 150 },
    ]);
  });
});
