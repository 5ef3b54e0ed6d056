"""An app written only with the official StateFun Python SDK
(apache-flink-statefun 3.3.0) and served as the SDK's docs show (aiohttp,
RequestReplyHandler.handle_async). The test suite runs it unchanged on
sf-local (tests/sdkapps/run_app.py) and on a real Flink StateFun cluster
(tests/e2e/run_e2e_parity.py), from tests/sdkapps/python/module.yaml.

Functions (namespace pyapp; tests/sdkapps/README.md has the whole contract,
which tests/sdkapps/js/app.js implements the same way):
  pyapp.fns/greeter  a string or a pyapp.types/Greet JSON value from the
                     playground ingress; state `visits` expires 3 s after
                     its last write; answers on the playground egress
                     (topic greetings) and tells pyapp.fns/stats
  pyapp.fns/stats    an int (from greeter or the playground ingress) adds to
                     `total`; a bool only reports; playground egress topic
                     stats and a Kinesis record on stream pyapp-stats
  pyapp.fns/orders   a protobuf sdkapps.Order from Kafka topic pyapp-orders;
                     keeps the last order (protobuf state) and a count;
                     Kafka egress topic pyapp-out; re-arms pyapp.fns/timer
  pyapp.fns/timer    "arm:<ms>" cancels its pending timer and schedules a new
                     one with the same token in the same invocation;
                     "fire:<n>" reports on Kafka egress topic pyapp-out

  python app.py --port PORT
"""
import argparse
from datetime import timedelta

from aiohttp import web
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from statefun import (Context, IntType, Message, RequestReplyHandler,
                      StatefulFunctions, ValueSpec,
                      egress_message_builder, kafka_egress_message,
                      kinesis_egress_message, make_json_type,
                      make_protobuf_type, message_builder)


def order_class():
    """sdkapps.Order (tests/sdkapps/order.proto) as a protobuf class, built
    from its descriptor at start-up so that no protoc step is needed."""
    f = descriptor_pb2.FileDescriptorProto(name="sdkapps/order.proto",
                                           package="sdkapps", syntax="proto3")
    m = f.message_type.add(name="Order")
    fd = descriptor_pb2.FieldDescriptorProto
    for num, name, typ in ((1, "id", fd.TYPE_STRING), (2, "item", fd.TYPE_STRING),
                           (3, "qty", fd.TYPE_INT32)):
        m.field.add(name=name, number=num, type=typ, label=fd.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    return message_factory.MessageFactory(pool).GetPrototype(
        pool.FindMessageTypeByName("sdkapps.Order"))


NS = "pyapp"
Order = order_class()
ORDER = make_protobuf_type(Order)  # type.googleapis.com/sdkapps.Order
GREET = make_json_type(NS + ".types/Greet")
EGRESS_RECORD = make_json_type("io.statefun.playground/EgressRecord")
KAFKA = NS + ".io/kafka"
KINESIS = NS + ".io/kinesis"
OUT_TOPIC = NS + "-out"

functions = StatefulFunctions()


def playground(context, topic, payload):
    context.send_egress(egress_message_builder(
        target_typename="io.statefun.playground/egress",
        value={"topic": topic, "payload": payload}, value_type=EGRESS_RECORD))


def origin(context):
    c = context.caller
    return "%s/%s" % (c.typename, c.id) if c else "ingress"


@functions.bind(typename=NS + ".fns/greeter",
                specs=[ValueSpec(name="visits", type=IntType,
                                 expire_after_write=timedelta(seconds=3))])
async def greeter(context: Context, message: Message):
    if message.is_type(GREET):
        req = message.as_type(GREET)
    elif message.is_string():
        req = {"name": message.as_string(), "lang": "en"}
    else:
        raise ValueError("greeter: unexpected type " + message.value_typename())
    visits = (context.storage.visits or 0) + 1
    context.storage.visits = visits
    hello = "Hallo" if req.get("lang") == "de" else "Hello"
    playground(context, "greetings", "%s, %s! visit %d" % (hello, req["name"], visits))
    context.send(message_builder(target_typename=NS + ".fns/stats",
                                 target_id="greetings", int_value=1))


@functions.bind(typename=NS + ".fns/stats",
                specs=[ValueSpec(name="total", type=IntType)])
async def stats(context: Context, message: Message):
    total = context.storage.total or 0
    if message.is_int():
        add = message.as_int()
        total += add
        context.storage.total = total
        text = "%s: +%d = %d (from %s)" % (context.address.id, add, total, origin(context))
    elif message.is_bool():
        text = "%s: total %d" % (context.address.id, total)
    else:
        raise ValueError("stats: unexpected type " + message.value_typename())
    playground(context, "stats", text)
    context.send_egress(kinesis_egress_message(
        typename=KINESIS, stream=NS + "-stats", partition_key=context.address.id,
        value=text))


@functions.bind(typename=NS + ".fns/orders",
                specs=[ValueSpec(name="last", type=ORDER),
                       ValueSpec(name="count", type=IntType)])
async def orders(context: Context, message: Message):
    order = message.as_type(ORDER)
    prev = context.storage.last
    count = (context.storage.count or 0) + 1
    context.storage.count = count
    context.storage.last = order
    text = "order %s #%d: %d x %s (previous: %s)" % (
        order.id, count, order.qty, order.item, prev.item if prev else "none")
    context.send_egress(kafka_egress_message(
        typename=KAFKA, topic=OUT_TOPIC, key=context.address.id, value=text))
    context.send(message_builder(target_typename=NS + ".fns/timer",
                                 target_id=context.address.id, str_value="arm:3000"))


@functions.bind(typename=NS + ".fns/timer",
                specs=[ValueSpec(name="arms", type=IntType)])
async def timer(context: Context, message: Message):
    cmd = message.as_string()
    arms = context.storage.arms or 0
    token = "t-" + context.address.id
    if cmd.startswith("arm:"):
        arms += 1
        context.storage.arms = arms
        # reset the timer: cancel and re-schedule with the same token, in
        # one invocation (the runtime applies the two in this order)
        context.cancel_delayed_message(token)
        context.send_after(timedelta(milliseconds=int(cmd[4:])),
                           message_builder(target_typename=NS + ".fns/timer",
                                           target_id=context.address.id,
                                           str_value="fire:%d" % arms),
                           cancellation_token=token)
    elif cmd.startswith("fire:"):
        context.send_egress(kafka_egress_message(
            typename=KAFKA, topic=OUT_TOPIC, key=context.address.id + "/timer",
            value="fired %s after %d arm(s)" % (cmd[5:], arms)))
    else:
        raise ValueError("timer: unknown command " + cmd)


handler = RequestReplyHandler(functions)


async def handle(request):
    reply = await handler.handle_async(await request.read())
    return web.Response(body=reply, content_type="application/octet-stream")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=8000)
    args = p.parse_args()
    app = web.Application()
    app.add_routes([web.post("/statefun", handle)])
    web.run_app(app, host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
