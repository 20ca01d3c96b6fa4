import { readFileSync } from 'node:fs';
import path from 'node:path';
import { VitstreamError } from '../errors.js';
import { packageRoot } from '../util/paths.js';

export interface StaticFile {
  body: Buffer;
  contentType: string;
}

/** The dashboard's files, by URL path. A fixed list: nothing else on disk is reachable. */
const FILES: Record<string, { file: string; contentType: string }> = {
  '/': { file: 'index.html', contentType: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', contentType: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', contentType: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', contentType: 'text/css; charset=utf-8' },
  '/timeline.js': { file: 'timeline.js', contentType: 'text/javascript; charset=utf-8' },
  '/timeline.css': { file: 'timeline.css', contentType: 'text/css; charset=utf-8' },
  '/favicon.svg': { file: 'favicon.svg', contentType: 'image/svg+xml' },
};

/** Where the dashboard lives: src/server/public in the package, whether running from src or dist. */
export function defaultPublicDir(): string {
  return path.join(packageRoot(), 'src', 'server', 'public');
}

/** Reads the dashboard once, at start: it is a few kilobytes and serving it must not touch the disk. */
export function loadStaticFiles(dir: string): Map<string, StaticFile> {
  const out = new Map<string, StaticFile>();
  for (const [urlPath, { file, contentType }] of Object.entries(FILES)) {
    try {
      out.set(urlPath, { body: readFileSync(path.join(dir, file)), contentType });
    } catch (err) {
      const where = path.join(dir, file);
      throw new VitstreamError(
        `dashboard file missing: ${where} (expected the package's src/server/public)`,
        {
          input: where,
          cause: err,
        },
      );
    }
  }
  return out;
}
