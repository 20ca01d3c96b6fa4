import { OptionError } from '../errors.js';
import { isOneOf } from '../util/one-of.js';

export const RTSP_TRANSPORTS = ['tcp', 'udp', 'auto'] as const;
/** How RTSP media travels: interleaved in the TCP connection (default), over UDP, or ffmpeg's choice. */
export type RtspTransport = (typeof RTSP_TRANSPORTS)[number];

/**
 * ffmpeg's input options for a transport. TCP interleaving survives NAT and lossy Wi-Fi where UDP
 * loses whole frames silently, hence the default; 'auto' lets ffmpeg try UDP, then TCP.
 */
export function rtspTransportArgs(transport: RtspTransport = 'tcp'): string[] {
  if (!isOneOf(RTSP_TRANSPORTS, transport))
    throw new OptionError(`rtspTransport must be tcp, udp or auto, got ${JSON.stringify(transport)}`, {
      input: 'rtspTransport',
    });
  return transport === 'auto' ? [] : ['-rtsp_transport', transport];
}

/**
 * A hint for a refused SETUP over TCP: a server that only offers UDP answers with a bare status
 * (400 Bad Request, 461 Unsupported Transport) that does not say so. Empty when it does not apply.
 */
export function rtspTransportHint(
  input: string,
  transport: RtspTransport | undefined,
  problems: string[],
): string {
  if (!/^rtsps?:/i.test(input) || (transport ?? 'tcp') !== 'tcp') return '';
  const text = problems.join('\n');
  if (!/SETUP failed|Unsupported transport|\b(400|461)\b/i.test(text)) return '';
  return '; the server may only offer RTSP over UDP: try rtspTransport: udp (--rtsp-transport udp)';
}
