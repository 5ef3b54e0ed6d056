"""Functions written with the official Python SDK (apache-flink-statefun
3.3.0, served with aiohttp) that make sf-local take the decisions Flink
takes on what a function sends: which egress takes which record type, and
a reply that cancels and re-arms a delayed message with the same token.

    python3 probe.py PORT

probe/egress: the message (a string) names what to send:
    kafka           a KafkaProducerRecord to probe.io/kafka (topic out)
    kafka-plain     a plain string value to probe.io/kafka (Flink fails)
    kinesis         a KinesisEgressRecord to probe.io/kinesis (stream out)
    kinesis-plain   a plain string value to probe.io/kinesis (Flink fails)
    pg              an EgressRecord to the playground egress, topic greetings
    pg-plain        a plain string to the playground egress (Flink fails)
    pg-unlisted     an EgressRecord for topic "nope", not in the egress's
                    topics (Flink fails)
    pg-extra        an EgressRecord with a field besides topic and payload
probe/timer: "arm:<ms>" cancels the delayed message with token "t" and
    schedules "fired" to itself after <ms> with token "t", in one reply
    (the "reset the timer" pattern); "fired" sends a KafkaProducerRecord
    "fired:<id>" to probe.io/kafka, topic timer.

run_integration.py (tests sdk_egress_kinds, sdk_timer_reset) drives them.
"""
import sys
from datetime import timedelta

from aiohttp import web
from statefun import (RequestReplyHandler, StatefulFunctions, StringType,
                      egress_message_builder, kafka_egress_message,
                      kinesis_egress_message, make_json_type, message_builder)

functions = StatefulFunctions()
EGRESS_RECORD = make_json_type(typename="io.statefun.playground/EgressRecord")
PLAYGROUND = "io.statefun.playground/egress"


@functions.bind(typename="probe/egress")
async def egress(context, message):
    what = message.as_string()
    me = context.address.id
    if what == "kafka":
        context.send_egress(kafka_egress_message(typename="probe.io/kafka", topic="out",
                                                 key=me, value="k:" + me))
    elif what == "kafka-plain":
        context.send_egress(egress_message_builder(target_typename="probe.io/kafka",
                                                   value="plain", value_type=StringType))
    elif what == "kinesis":
        context.send_egress(kinesis_egress_message(typename="probe.io/kinesis", stream="out",
                                                   partition_key=me, value="s:" + me))
    elif what == "kinesis-plain":
        context.send_egress(egress_message_builder(target_typename="probe.io/kinesis",
                                                   value="plain", value_type=StringType))
    elif what == "pg":
        context.send_egress(egress_message_builder(
            target_typename=PLAYGROUND, value={"topic": "greetings", "payload": "hi " + me},
            value_type=EGRESS_RECORD))
    elif what == "pg-plain":
        context.send_egress(egress_message_builder(target_typename=PLAYGROUND,
                                                   value="hi", value_type=StringType))
    elif what == "pg-unlisted":
        context.send_egress(egress_message_builder(
            target_typename=PLAYGROUND, value={"topic": "nope", "payload": "hi"},
            value_type=EGRESS_RECORD))
    elif what == "pg-extra":
        context.send_egress(egress_message_builder(
            target_typename=PLAYGROUND,
            value={"topic": "greetings", "payload": "hi", "extra": 1},
            value_type=EGRESS_RECORD))
    else:
        raise ValueError("unknown command " + what)


@functions.bind(typename="probe/timer")
async def timer(context, message):
    what = message.as_string()
    me = context.address.id
    if what.startswith("arm:"):
        context.cancel_delayed_message("t")
        context.send_after(timedelta(milliseconds=int(what[4:])),
                           message_builder(target_typename="probe/timer", target_id=me,
                                           str_value="fired"),
                           cancellation_token="t")
    elif what == "fired":
        context.send_egress(kafka_egress_message(typename="probe.io/kafka", topic="timer",
                                                 key=me, value="fired:" + me))


handler = RequestReplyHandler(functions)


async def handle(request):
    reply = await handler.handle_async(await request.read())
    return web.Response(body=reply, content_type="application/octet-stream")


async def health(_request):
    return web.Response(text="ok")


def main():
    app = web.Application()
    app.add_routes([web.post("/statefun/{name}", handle), web.get("/health", health)])
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)


if __name__ == "__main__":
    main()
