"""Run the gateway: `python -m api_gateway.serve [--host H --port P | --fd N] [--workers W]`.

uvicorn with the settings every deployment shares (the app factory, the HTTP
protocol that answers unparsable requests in the envelope, no access log: ids,
not paths with user ids, go to the log), on a socket it binds itself or on a
listening socket handed down by `persona run` (`--fd`), which outlives a crashed
gateway so that requests wait for the next one instead of being refused.
uvicorn's own `--fd` takes any socket for a Unix one, and asyncio then leaves
Nagle's algorithm on for every TCP connection (40 ms stalls on small answers):
here the socket's family is read from the socket itself.
"""

from __future__ import annotations

import argparse
import socket

import uvicorn
from uvicorn.supervisors import Multiprocess

from api_gateway.http import EnvelopeProtocol


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--fd", type=int, help="a listening socket to serve on")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    config = uvicorn.Config(
        "api_gateway.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        http=EnvelopeProtocol,
        access_log=False,
    )
    server = uvicorn.Server(config)
    sock = socket.socket(fileno=args.fd) if args.fd is not None else config.bind_socket()
    if args.workers > 1:
        Multiprocess(config, sockets=[sock]).run()
    else:
        server.run(sockets=[sock])


if __name__ == "__main__":
    main()
