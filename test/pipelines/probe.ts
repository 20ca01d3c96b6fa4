import { execFileSync } from 'node:child_process';

/** The video stream's frame rate according to ffprobe (r_frame_rate), independent of our parsing. */
export function ffprobeFps(file: string): number {
  const out = execFileSync(
    'ffprobe',
    ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=r_frame_rate', '-of', 'csv=p=0', file],
    { encoding: 'utf8' },
  ).trim();
  const [n, d] = out.split('/').map(Number);
  return d ? n / d : n;
}
