/**
 * ffmpeg's `-protocol_whitelist` per source: the protocols that source needs and no others, so that
 * what a source leads ffmpeg to open (an HLS playlist's segments and keys, an RTSP session's RTP
 * streams) cannot reach another protocol, above all `file:` from a remote playlist.
 */
const BY_SCHEME: Readonly<Record<string, string>> = {
  // TCP interleaving is the default transport; UDP transport opens rtp and udp.
  rtsp: 'rtsp,rtp,udp,tcp',
  rtsps: 'rtsps,rtsp,rtp,udp,tcp,tls',
  // HLS: segments may move between http and https (redirects, CDNs); AES-128 segments open crypto+http(s).
  http: 'http,https,tcp,tls,crypto',
  https: 'https,http,tls,tcp,crypto',
  rtmp: 'rtmp,tcp',
  rtmps: 'rtmps,rtmp,tls,tcp',
  srt: 'srt,udp',
  udp: 'udp',
  rtp: 'rtp,udp',
  tcp: 'tcp',
  file: 'file',
};

/** The URL scheme of an ffmpeg input (`rtsp` of `rtsp://…`), lower case; undefined for a plain path. */
export function urlScheme(input: string): string | undefined {
  return /^([a-z][a-z0-9+.-]*):\/\//i.exec(input)?.[1]?.toLowerCase();
}

/**
 * The whitelist for an input: `file` for local files, folders and image globs, `pipe` for standard
 * input, the table's entry for a URL. A scheme the table does not know (an operator's own choice on the
 * command line) gets itself plus the network transports, never `file`; undefined for capture devices,
 * which do not go through ffmpeg's protocols.
 */
export function protocolWhitelist(
  kind: 'file' | 'images' | 'url' | 'stdin' | 'device',
  input: string,
): string | undefined {
  if (kind === 'file' || kind === 'images') return 'file';
  if (kind === 'stdin') return 'pipe';
  if (kind === 'device') return undefined;
  const scheme = urlScheme(input);
  if (!scheme) return undefined;
  return BY_SCHEME[scheme] ?? `${scheme.replace(/[^a-z0-9]/g, ',')},tcp,udp,tls`;
}
