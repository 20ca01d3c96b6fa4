import { describe, expect, it } from 'vitest';
import { decode, encode, WorkItem } from '../../src/cluster/messages.js';
import { checkToken, modelKey } from '../../src/cluster/subjects.js';

const item = (path: string) => ({ job: 'j1', key: 'f00000', path, name: 'x.mp4', topK: 5, resize: 'squash' });

describe('messages read from the bus are checked', () => {
  it('a work item opens only an absolute local file, never a URL, device, stdin or relative path', () => {
    expect(decode(WorkItem, encode(item('/data/a b.mp4')), 's').path).toBe('/data/a b.mp4');
    for (const bad of ['http://evil/x.mp4', '/dev/video0', '-', 'clip.mp4', '/data/*.png', 'concat:/a|/b'])
      expect(() => decode(WorkItem, encode(item(bad)), 'vitstream.work.m.j1'), bad).toThrow(
        /vitstream\.work\.m\.j1: path/,
      );
    expect(() => decode(WorkItem, new TextEncoder().encode('{'), 'subj')).toThrow(/subj: not JSON/);
  });
  it('ids that become subject tokens', () => {
    expect(checkToken('cam-1_A', 'feed id')).toBe('cam-1_A');
    for (const bad of ['', 'a.b', '*', '>', 'a b', 'x'.repeat(65), 'é'])
      expect(() => checkToken(bad, 'feed id')).toThrow(/feed id/);
    expect(modelKey('vit-b16-224')).toBe('vit-b16-224');
    expect(modelKey('/models/vit-cifar10-demo/')).toBe('vit-cifar10-demo');
    expect(modelKey('./cfg/my.model.json')).toBe('my_model');
  });
});
