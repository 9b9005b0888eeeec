"""A wasi:http handler in Python, built with componentize-py against the
standard wasi:http/proxy world and served by wharf unchanged.

    GET /            a greeting
    GET /header      the request's x-name header, echoed as x-echo
    POST /echo       the request body, streamed back as it arrives
    GET /connect?port=N
                     opens a TCP connection to 127.0.0.1:N with Python's
                     socket module and says whether it was allowed
"""

import asyncio
import socket

# socket.getaddrinfo encodes host names with the idna codec, and
# componentize-py bundles only the modules an app imports.
import encodings.idna  # noqa: F401

from componentize_py_types import Ok
from poll_loop import PollLoop, Sink, Stream
from wit_world import exports
from wit_world.imports.types import (
    Fields,
    IncomingRequest,
    Method_Get,
    Method_Post,
    OutgoingBody,
    OutgoingResponse,
    ResponseOutparam,
)


class IncomingHandler(exports.IncomingHandler):
    def handle(self, request: IncomingRequest, response_out: ResponseOutparam) -> None:
        loop = PollLoop()
        asyncio.set_event_loop(loop)
        loop.run_until_complete(handle(request, response_out))


def respond(response_out: ResponseOutparam, status: int, headers, body: bytes) -> None:
    response = OutgoingResponse(Fields.from_list(headers))
    response.set_status_code(status)
    response_body = response.body()
    ResponseOutparam.set(response_out, Ok(response))
    stream = response_body.write()
    stream.blocking_write_and_flush(body)
    stream.__exit__(None, None, None)
    OutgoingBody.finish(response_body, None)


async def handle(request: IncomingRequest, response_out: ResponseOutparam) -> None:
    method = request.method()
    target = request.path_with_query() or "/"
    path, _, query = target.partition("?")
    text = [("content-type", b"text/plain; charset=utf-8"), ("x-guest", b"python")]

    if isinstance(method, Method_Get) and path == "/":
        respond(response_out, 200, text, b"Hello from Python!\n")
    elif isinstance(method, Method_Get) and path == "/header":
        names = request.headers().get("x-name")
        name = names[0] if names else b"nobody"
        respond(response_out, 200, text + [("x-echo", name)], b"hello, " + name + b"\n")
    elif isinstance(method, Method_Post) and path == "/echo":
        response = OutgoingResponse(Fields.from_list([("content-type", b"application/octet-stream")]))
        sink = Sink(response.body())
        ResponseOutparam.set(response_out, Ok(response))
        stream = Stream(request.consume())
        while True:
            chunk = await stream.next()
            if chunk is None:
                break
            await sink.send(chunk)
        sink.close()
    elif isinstance(method, Method_Get) and path == "/connect":
        port = int(dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("port", "0"))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
                connection.sendall(b"hello from python\n")
            respond(response_out, 200, text, b"connected\n")
        except OSError as error:
            respond(response_out, 200, text, f"refused: {error}\n".encode())
    else:
        respond(response_out, 404, text, b"no such page\n")
