#!/usr/bin/env python3
"""The benchmark's two functions written with the official StateFun Python
SDK (apache-flink-statefun 3.3.0) and served the way the SDK's
documentation recommends: RequestReplyHandler.handle_async inside an
aiohttp web handler, started with web.run_app (one process, one event loop).

  greeter.fns/greet  the logic of examples/greeter/greet.c: count visits in
                     `seen`, greet on the Kafka egress, remind after the
                     first visit and cancel on the second
  bench.fns/state    read the raw state `blob`, write back a copy whose
                     first 8 bytes (a little-endian counter) are one more

Usage: peer.py [--host 127.0.0.1] [--port 8000]
POST /statefun (any path under it works too) with a ToFunction body.
benchtool.py imports `handler` to compute the expected replies.
"""
import argparse
from datetime import timedelta

from aiohttp import web
from statefun import (IntType, RequestReplyHandler, StatefulFunctions,
                      ValueSpec, kafka_egress_message, message_builder,
                      simple_type)

functions = StatefulFunctions()


# Same logic as examples/greeter/greet.c: count visits in `seen`, greet via
# the Kafka egress; on the first visit schedule a reminder (cancellable),
# on the second visit cancel it.
@functions.bind(typename="greeter.fns/greet",
                specs=[ValueSpec(name="seen", type=IntType)])
async def greet(context, message):
    if not message.is_string():
        raise TypeError(f"greeter.fns/greet expects a string, got "
                        f"{message.value_typename()}")
    seen = context.storage.seen or 0
    seen += 1
    context.storage.seen = seen
    uid = context.address.id
    token = f"remind-{uid}"
    context.send_egress(kafka_egress_message(
        typename="greeter.io/greetings",
        topic="greetings",
        key=uid,
        value=f"Hello, {uid}! You have been here {seen} time(s)."))
    # A reminder after the first visit, called off by the second.
    if seen == 1:
        context.send_after(timedelta(milliseconds=60000),
                           message_builder(target_typename="greeter.fns/greet",
                                           target_id=uid, str_value=uid),
                           cancellation_token=token)
    elif seen == 2:
        context.cancel_delayed_message(token)


BLOB = simple_type(typename="bench.types/blob",
                   serialize_fn=bytes, deserialize_fn=bytes)


# The state benchmark: a read-modify-write of a blob of any size.
@functions.bind(typename="bench.fns/state",
                specs=[ValueSpec(name="blob", type=BLOB)])
async def state(context, message):
    blob = bytearray(context.storage.blob or bytes(8))
    blob.extend(bytes(max(0, 8 - len(blob))))
    n = int.from_bytes(blob[:8], "little") + 1
    blob[:8] = n.to_bytes(8, "little")
    context.storage.blob = bytes(blob)


handler = RequestReplyHandler(functions)


async def handle(request):
    req = await request.read()
    res = await handler.handle_async(req)
    return web.Response(body=res, content_type="application/octet-stream")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    args = ap.parse_args()
    app = web.Application()
    app.add_routes([web.post("/statefun", handle),
                    web.post("/statefun/{tail:.*}", handle)])
    web.run_app(app, host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
