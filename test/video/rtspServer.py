#!/usr/bin/python3
"""A small RTSP server on 127.0.0.1 for the tests: GStreamer's gst-rtsp-server through python3-gi.

Usage: rtspServer.py tcp|udp|any. Serves rtsp://127.0.0.1:PORT/cam (a test pattern as RTP/JPEG) on a
free port, offering only the given lower transport, prints "ready PORT" and runs until stdin closes
or it is killed. Exits 3 when python3-gi or the plugins are missing, so the tests can skip.
"""
import sys

try:
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtsp", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtsp, GstRtspServer
except (ImportError, ValueError) as e:
    print(f"missing: {e}", flush=True)
    sys.exit(3)

Gst.init(None)
if not all(Gst.ElementFactory.find(n) for n in ("videotestsrc", "jpegenc", "rtpjpegpay")):
    print("missing: gstreamer plugins videotestsrc, jpegenc, rtpjpegpay", flush=True)
    sys.exit(3)

protocols = {
    "tcp": GstRtsp.RTSPLowerTrans.TCP,
    "udp": GstRtsp.RTSPLowerTrans.UDP,
    "any": GstRtsp.RTSPLowerTrans.TCP | GstRtsp.RTSPLowerTrans.UDP,
}[sys.argv[1]]

server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service("0")
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(
    "( videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,width=160,height=120,framerate=10/1"
    " ! jpegenc ! rtpjpegpay name=pay0 pt=96 )"
)
factory.set_shared(True)
factory.set_protocols(protocols)
server.get_mount_points().add_factory("/cam", factory)
server.attach(None)
print(f"ready {server.get_bound_port()}", flush=True)

loop = GLib.MainLoop()


def on_stdin(source, condition):
    # Ends with its parent: the test holds stdin open, and its closing (even by a crash) ends us.
    if condition & GLib.IO_HUP or not sys.stdin.buffer.read1(4096):
        loop.quit()
        return False
    return True


GLib.io_add_watch(sys.stdin, GLib.IO_HUP | GLib.IO_IN, on_stdin)
loop.run()
