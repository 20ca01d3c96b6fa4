import {
  ConfigError,
  SourceRefusedError,
  StreamConflictError,
  StreamLimitError,
  StreamNotFoundError,
  StreamRequestError,
} from '../src/errors.js';
import { parseStreamRequest } from '../src/serve-config.js';
import type { StreamInfo } from '../src/server/protocol.js';
import { DEFAULT_API_SCHEMES } from '../src/server/source-policy.js';
import { deriveStreamId, shorten } from '../src/server/stream-id.js';
import type { StreamController } from '../src/server/streams.js';
import { type Logger, silentLogger } from '../src/util/logger.js';
import { redactCredentials } from '../src/util/redact.js';
import { isImagePath, type ResolvedSource } from '../src/video/source.js';
import type { FeedSource, LiveFeeds } from './liveFeeds.js';

/** A source the policy let through: what ffmpeg opens (see src/server/source-policy.ts's checkApiSource). */
export interface CheckedSource {
  input: string;
  inputs?: string[];
  kind: 'url' | 'file' | 'folder' | 'glob';
}

/** Resolves or refuses a source offered over the API ({url} or {path}); throws SourceRefusedError. */
export type ApiSourceCheck = (body: { url?: string; path?: string }) => Promise<CheckedSource>;

/** Schemes the built-in check lets through: the source policy's network schemes (no file:, pipe:, concat:...). */
const URL_SCHEMES = DEFAULT_API_SCHEMES;

/**
 * The check used when no source policy is given: URLs of network schemes only, no local paths at all
 * (as the policy does with no media roots). Says nothing about whether a path exists.
 */
export const networkUrlsOnly: ApiSourceCheck = async (body) => {
  if (body.path !== undefined)
    throw new SourceRefusedError(
      'path: local files are not accepted over the API on this server (start serve with --media-root DIR to allow a folder)',
      { input: 'path' },
    );
  const url = body.url ?? '';
  let scheme = '';
  try {
    scheme = new URL(url).protocol.replace(/:$/, '').toLowerCase();
  } catch {
    // not an absolute URL: refused below
  }
  if (!URL_SCHEMES.includes(scheme))
    throw new SourceRefusedError(
      `url "${shorten(redactCredentials(url))}": expected an absolute URL with one of the schemes ${URL_SCHEMES.join(', ')}`,
      { input: 'url' },
    );
  return { input: url, kind: 'url' };
};

export interface StreamControlOptions {
  feeds: LiveFeeds;
  /** Streams running at once (start-up feeds included) beyond which an add is refused. */
  maxStreams: number;
  checkSource?: ApiSourceCheck;
  /** How a running source is shown (state and the like are the pipeline's). */
  describe: (s: ResolvedSource) => StreamInfo;
  /** A stream that ended on its own but is still shown (its card): removing it only forgets it. */
  isShown: (id: string) => boolean;
  forget: (id: string) => void;
  logger?: Logger;
}

/**
 * Stream control, in one place: add (checked shape, id, limit and source policy), remove, list. Throws
 * the typed errors of src/errors.ts; the HTTP and WebSocket layers map them to statuses (server/streams.ts).
 */
export function createStreamControl(o: StreamControlOptions): StreamController {
  const logger = o.logger ?? silentLogger;
  const checkSource = o.checkSource ?? networkUrlsOnly;
  // Whatever `describe` shows, the input goes out without credentials.
  const show = (s: ResolvedSource): StreamInfo => {
    const info = o.describe(s);
    return { ...info, input: redactCredentials(info.input) };
  };
  const list = () => o.feeds.list().map(show);
  const full = () => o.feeds.list().length >= o.maxStreams;
  const limitError = () =>
    new StreamLimitError(`this server runs at most ${o.maxStreams} streams: remove one first`, {
      input: 'streams',
    });
  return {
    list,
    get: (id) => {
      const s = o.feeds.list().find((x) => x.id === id);
      return s && show(s);
    },
    add: async (request) => {
      // Refused before anything slow (the source check may read the disk): a flood of adds stays cheap.
      if (full()) throw limitError();
      const spec = parseApiRequest(request);
      const { url, path, ...rest } = spec;
      const checked = await checkSource(url !== undefined ? { url } : { path });
      const id = spec.id ?? deriveStreamId(checked.input);
      // Checked again after the await, in the same turn as the add: concurrent requests cannot overshoot.
      if (full()) throw limitError();
      if (o.feeds.has(id))
        throw new StreamConflictError(`a stream with id "${id}" already exists`, { input: id });
      const { every, fps, ...feed } = rest;
      const source: FeedSource = {
        ...feed,
        id,
        ...(checked.kind === 'url' ? { url: checked.input } : { path: checked.input }),
        // A folder or glob: ffmpeg gets the files the check let through, not the pattern (its own glob
        // would follow links out of the media root, and take a glob of videos as images).
        ...(checked.kind === 'folder' || checked.kind === 'glob' ? { files: imagesOf(checked) } : {}),
        sample: every ? { every } : fps ? { fps } : undefined,
      };
      const s = o.feeds.add(source);
      logger.info({ stream: s.id, input: redactCredentials(s.input) }, 'stream added');
      return show(s);
    },
    remove: async (id) => {
      if (o.feeds.remove(id)) {
        logger.info({ stream: id }, 'stream removed');
        return;
      }
      if (!o.isShown(id)) throw new StreamNotFoundError(`no stream with id "${id}"`, { input: id });
      o.forget(id);
      logger.info({ stream: id }, 'ended stream removed');
    },
  };
}

/** The checked files of a folder or glob, refused unless every one is an image (read as an image sequence). */
function imagesOf(checked: CheckedSource): string[] {
  const files = checked.inputs ?? [];
  const other = files.find((f) => !isImagePath(f));
  if (files.length === 0 || other !== undefined)
    throw new SourceRefusedError(
      `path "${shorten(redactCredentials(checked.input))}": a folder or glob is read as a sequence of images; it matches ${other === undefined ? 'no file' : 'files that are not images'} (add one stream per video)`,
      { input: 'path' },
    );
  return files;
}

/** The request's shape: a JSON object with the API's keys (no `format`, no ffmpeg options). */
function parseApiRequest(request: unknown): ReturnType<typeof parseStreamRequest> {
  if (typeof request !== 'object' || request === null || Array.isArray(request))
    throw new StreamRequestError('expected a JSON object such as {"id": "cam1", "url": "rtsp://..."}', {
      input: 'stream',
    });
  try {
    return parseStreamRequest(request);
  } catch (e) {
    if (e instanceof ConfigError)
      throw new StreamRequestError(redactCredentials(shorten(e.message, 300)), { input: 'stream' });
    throw e;
  }
}
