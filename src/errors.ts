/**
 * Typed errors. Each says which input was wrong and what was expected, so that a user reading
 * one line knows what to fix. `input` names the file, URL, stream or tensor concerned.
 */
export class VitstreamError extends Error {
  readonly input?: string;
  constructor(message: string, options?: { input?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.input = options?.input;
  }
}

/** A model config or pipeline config that does not validate. */
export class ConfigError extends VitstreamError {}
/** A weights file that is truncated, malformed or does not match the model config. */
export class WeightsFormatError extends VitstreamError {}
/** Weights that could not be downloaded or verified. */
export class DownloadError extends VitstreamError {}
/** No usable GPU adapter, or a device that was lost. */
export class GpuUnavailableError extends VitstreamError {}
/** An engine used wrongly (closed, batch too large, wrong input size). */
export class EngineError extends VitstreamError {}
/** Tensor or image input (CLI `infer`, `.npy` files) of the wrong kind or size. */
export class InputError extends VitstreamError {}
/**
 * The reader of an output went away: a pipe closed early, as `vitstream classify clip.mp4 | head` does.
 * Not a failure to report: the CLI stops its work and exits quietly, like other Unix tools.
 */
export class OutputClosedError extends VitstreamError {}
/** ffmpeg could not be found or is unusable. */
export class FfmpegNotFoundError extends VitstreamError {}
/** A video source that cannot be opened or decoded. */
export class VideoSourceError extends VitstreamError {}
/** A run-time stream request (HTTP /streams, WebSocket add-stream) of the wrong shape: unknown keys, a bad id or value. */
export class StreamRequestError extends VitstreamError {}
/** A stream request naming a stream that does not exist. */
export class StreamNotFoundError extends VitstreamError {}
/** A stream request whose id is already taken. */
export class StreamConflictError extends VitstreamError {}
/** A stream request beyond a limit (the number of streams). */
export class StreamLimitError extends VitstreamError {}
/** A stream source offered over the API that the server's source policy refuses. */
export class SourceRefusedError extends VitstreamError {}
/** A library function or operator called with an option out of its range; `input` names the option. */
export class OptionError extends VitstreamError {}
/** A feed registry (liveFeeds) refusing a feed: its id is taken, or every feed has ended. */
export class FeedRegistryError extends VitstreamError {
  constructor(
    message: string,
    readonly reason: 'duplicate-id' | 'closed',
    options?: { input?: string },
  ) {
    super(message, options);
  }
}
