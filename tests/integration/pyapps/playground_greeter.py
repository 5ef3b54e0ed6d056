"""A greeter in the shape of the StateFun playground's python/greeter, written
with the official Python SDK (apache-flink-statefun 3.3.0) and served with
aiohttp as the playground serves it: POST /statefun, the SDK's handler, the
reply as application/octet-stream.

    python3 playground_greeter.py PORT

example/person counts visits (IntType state) and forwards the request,
enriched with the count, to example/greeter; the greeter sends
{"topic": "greetings", "payload": <greeting>} of type
io.statefun.playground/EgressRecord to the playground egress.

run_integration.py (test playground_greeter) runs it behind sf-local with
the playground's module.yaml and drives it with the README's two curl
requests.
"""
import sys

from aiohttp import web
from statefun import (IntType, RequestReplyHandler, StatefulFunctions, ValueSpec,
                      egress_message_builder, make_json_type, message_builder)

functions = StatefulFunctions()

GREET_REQUEST = make_json_type(typename="example/GreetRequest")
EGRESS_RECORD = make_json_type(typename="io.statefun.playground/EgressRecord")

GREETINGS = ["", "Welcome %s", "Nice to see you again %s", "Third time is a charm %s"]


@functions.bind(typename="example/person", specs=[ValueSpec(name="visits", type=IntType)])
async def person(context, message):
    visits = (context.storage.visits or 0) + 1
    context.storage.visits = visits
    request = message.as_type(GREET_REQUEST)
    request["visits"] = visits
    context.send(message_builder(target_typename="example/greeter",
                                 target_id=request["name"],
                                 value=request, value_type=GREET_REQUEST))


@functions.bind(typename="example/greeter")
async def greeter(context, message):
    request = message.as_type(GREET_REQUEST)
    name, seen = request["name"], request["visits"]
    text = GREETINGS[seen] % name if seen < len(GREETINGS) else \
        "Nice to see you at the %d-nth time %s!" % (seen, name)
    context.send_egress(egress_message_builder(
        target_typename="io.statefun.playground/egress",
        value={"topic": "greetings", "payload": text},
        value_type=EGRESS_RECORD))


handler = RequestReplyHandler(functions)


async def handle(request):
    body = await request.read()
    reply = await handler.handle_async(body)
    return web.Response(body=reply, content_type="application/octet-stream")


async def health(_request):
    return web.Response(text="ok")


def main():
    app = web.Application()
    app.add_routes([web.post("/statefun", handle), web.get("/health", health)])
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)


if __name__ == "__main__":
    main()
