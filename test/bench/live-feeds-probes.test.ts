import { describe, expect, it } from 'vitest';
import { parseDmon } from '../../bench/nvidia-dmon.js';
import { machineCpu, processArgs, processCpu } from '../../bench/proc-cpu.js';

describe('live-feeds probes', () => {
  it('parseDmon finds the dec and sm columns by the header, whatever the driver adds', () => {
    const text = [
      '# gpu    sm   mem   enc   dec   jpg   ofa',
      '# Idx     %     %     %     %     %     %',
      '    0    10     3     0    40     0     0',
      '    0    20     3     0    60     -     -',
      '',
    ].join('\n');
    const u = parseDmon(text);
    expect(u?.dec).toEqual({ gpus: 1, samples: 2, meanPct: 50, maxPct: 60 });
    expect(u?.sm).toMatchObject({ meanPct: 15, maxPct: 20 });
    expect(parseDmon('')).toBeUndefined();
    expect(parseDmon('nvidia-smi: command not found')).toBeUndefined();
  });

  it('machineCpu counts idle and iowait as not busy, and the cores', () => {
    const stat = [
      'cpu  100 0 50 800 50 0 0 0 0 0',
      'cpu0 50 0 25 400 25 0 0 0 0 0',
      'cpu1 50 0 25 400 25 0 0 0 0 0',
      'intr 1',
    ].join('\n');
    expect(machineCpu(100, stat)).toEqual({ busyS: 1.5, totalS: 10, cores: 2 });
  });

  it('processCpu and processArgs read this process; a gone pid gives undefined', () => {
    const me = processCpu(process.pid, 100);
    expect(me?.selfS).toBeGreaterThan(0);
    expect(processArgs(process.pid)?.[0]).toContain('node');
    expect(processCpu(2 ** 30, 100)).toBeUndefined();
    expect(processArgs(2 ** 30)).toBeUndefined();
  });
});
