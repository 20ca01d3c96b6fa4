import path from 'node:path';
import { type ReportPoint, summarizePoints } from './report-summary.js';

export interface ReportThumbnail {
  frame: number;
  ptsMs: number;
  label: string;
  index: number;
  score: number;
  width: number;
  height: number;
  /** A data: URL (PNG), so the page needs no file beside it. */
  dataUrl: string;
}

export interface ReportFile {
  id: string;
  file: string;
  error?: string;
  points: ReportPoint[];
  thumbnails: ReportThumbnail[];
  changesWithoutThumbnail: number;
}

export interface ReportPage {
  title: string;
  model?: string;
  createdAt: Date;
  files: ReportFile[];
  timelineJs: string;
  timelineCss: string;
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** JSON that can sit inside a <script> element: no "</script>" or "<!--" can be spelled in it. */
const scriptJson = (value: unknown) =>
  JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const clock = (ms: number) => {
  const s = Math.max(0, ms) / 1000;
  return `${Math.floor(s / 60)}:${(s % 60).toFixed(1).padStart(4, '0')}`;
};

function fileSection(f: ReportFile, n: number): string {
  const sum = summarizePoints(f.points);
  const status = f.error ? `failed: ${f.error.split('\n')[0]}` : 'ok';
  const rows = sum.classes
    .map(
      (c) =>
        `<tr data-label="${escapeHtml(c.label)}"><td><span class="swatch" data-class-index="${c.index}"></span>${escapeHtml(c.label)}</td><td class="num">${(c.share * 100).toFixed(1)}%</td><td class="num">${seconds(c.ms)}</td><td class="num">${c.frames}</td></tr>`,
    )
    .join('');
  const thumbs = f.thumbnails
    .map(
      (t) =>
        `<figure class="thumb" data-frame="${t.frame}" data-label="${escapeHtml(t.label)}"><img src="${t.dataUrl}" width="${t.width}" height="${t.height}" alt="frame ${t.frame}: ${escapeHtml(t.label)}" loading="lazy"><figcaption><b>${escapeHtml(t.label)}</b> ${(t.score * 100).toFixed(0)}%<br><time>${clock(t.ptsMs)}</time> · frame ${t.frame}</figcaption></figure>`,
    )
    .join('');
  const more =
    f.changesWithoutThumbnail > 0
      ? `<p class="note">${f.changesWithoutThumbnail} more class change(s) without a thumbnail: a report keeps the first few per file.</p>`
      : '';
  return `<section class="file" id="file-${n}" data-stream="${escapeHtml(f.id)}" data-status="${f.error ? 'failed' : 'ok'}">
<h2 title="${escapeHtml(f.file)}">${escapeHtml(path.basename(f.file) || f.file)}</h2>
<p class="path">${escapeHtml(f.file)}</p>
<dl class="facts"><div><dt>status</dt><dd class="status">${escapeHtml(status)}</dd></div><div><dt>frames</dt><dd class="frames">${sum.frames}</dd></div><div><dt>duration</dt><dd class="duration">${seconds(sum.durationMs)}</dd></div><div><dt>classes</dt><dd class="class-count">${sum.classes.length}</dd></div></dl>
<div class="timeline" data-file="${n}"></div>
${thumbs ? `<h3>Class changes</h3><div class="thumbs">${thumbs}</div>${more}` : ''}
${rows ? `<h3>Classes seen</h3><div class="table-wrap"><table class="classes"><thead><tr><th>top-1 class</th><th>share of time</th><th>time</th><th>frames</th></tr></thead><tbody>${rows}</tbody></table></div>` : '<p class="note">No frames were classified.</p>'}
</section>`;
}

const PAGE_CSS = `
:root{color-scheme:light dark;--bg:#f4f5f7;--panel:#fff;--text:#1b1f24;--muted:#667085;--line:#e3e6ea}
@media (prefers-color-scheme:dark){:root{--bg:#0f1115;--panel:#181b21;--text:#e6e8eb;--muted:#8b93a1;--line:#2a2f38}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header.page{padding:16px 20px 8px}
header.page h1{margin:0;font-size:20px}
header.page p{margin:2px 0;color:var(--muted);overflow-wrap:anywhere}
main{padding:0 20px 24px;display:grid;gap:16px}
.file{background:var(--panel);border:1px solid var(--line);border-radius:10px;padding:12px 16px;min-width:0}
.file h2{margin:0;font-size:16px;overflow-wrap:anywhere}
.file h3{margin:14px 0 6px;font-size:13px;color:var(--muted);font-weight:600}
.path{margin:0 0 6px;color:var(--muted);font-size:12px;overflow-wrap:anywhere}
.facts{display:flex;flex-wrap:wrap;gap:4px 18px;margin:0 0 10px}
.facts div{display:flex;gap:6px}.facts dt{color:var(--muted)}.facts dd{margin:0;font-variant-numeric:tabular-nums}
.file[data-status="failed"] .status{color:#dc2626}
.thumbs{display:flex;gap:8px;overflow-x:auto;padding-bottom:4px}
.thumb{margin:0;flex:none;width:104px;font-size:11px}
.thumb img{display:block;width:96px;height:96px;object-fit:contain;image-rendering:pixelated;background:#000;border-radius:4px}
.thumb figcaption{margin-top:2px}
.table-wrap{overflow-x:auto}
table.classes{border-collapse:collapse;font-variant-numeric:tabular-nums}
.classes th,.classes td{padding:3px 12px 3px 0;text-align:left;border-bottom:1px solid var(--line)}
.classes .num{text-align:right}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}
.note{color:var(--muted);font-size:12px}
@media (max-width:480px){header.page{padding:12px}main{padding:0 8px 16px}.file{padding:10px}}
`;

// Runs in the page: one timeline per file, fed from the embedded data; colours the table swatches.
const BOOT_JS = `
const data = JSON.parse(document.getElementById('report-data').textContent);
for (const [n, f] of data.files.entries()) {
  const slot = document.querySelector('.timeline[data-file="' + n + '"]');
  if (!slot) continue;
  const timeline = createTimeline({ mode: 'relative' });
  slot.append(timeline.element);
  timeline.setPoints(f.points.map(([time, c, score]) => ({ time, label: data.classes[c][0], index: data.classes[c][1], score })));
}
for (const s of document.querySelectorAll('.swatch[data-class-index]')) {
  const label = s.parentElement.parentElement.dataset.label;
  s.style.background = classColor(label, Number(s.dataset.classIndex));
}
`;

/** The whole report: one HTML file with its CSS, script, data and thumbnails inline. */
export function renderReportHtml(page: ReportPage): string {
  // Points go in as [ptsMs, class number, score] against one class table: a long video's data
  // stays a few tens of bytes per frame.
  const classes: [string, number][] = [];
  const classNo = new Map<string, number>();
  const files = page.files.map((f) => ({
    id: f.id,
    points: f.points.map((p) => {
      let c = classNo.get(p.label);
      if (c === undefined) {
        c = classes.push([p.label, p.index]) - 1;
        classNo.set(p.label, c);
      }
      return [p.ptsMs, c, p.score];
    }),
  }));
  const frames = page.files.reduce((a, f) => a + f.points.length, 0);
  const failed = page.files.filter((f) => f.error).length;
  const script = `${page.timelineJs}\n${BOOT_JS}`;
  if (/<\/script/i.test(script)) throw new Error('report: the timeline script may not contain "</script"');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${escapeHtml(page.title)} — vitstream report</title>
<style>${PAGE_CSS}${page.timelineCss}</style>
</head>
<body>
<header class="page">
<h1>vitstream report</h1>
<p class="run">${escapeHtml(page.title)}</p>
<p class="meta">${page.model ? `model ${escapeHtml(page.model)} · ` : ''}${page.files.length} file(s), ${frames} frames classified${failed ? `, ${failed} failed` : ''} · <time datetime="${page.createdAt.toISOString()}">${escapeHtml(
    page.createdAt
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, ' UTC'),
  )}</time></p>
</header>
<main>
${page.files.map(fileSection).join('\n')}
</main>
<script type="application/json" id="report-data">${scriptJson({ classes, files })}</script>
<script type="module">
${script}
</script>
</body>
</html>
`;
}
