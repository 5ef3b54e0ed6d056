"""The functions of the differential test sf-local vs Flink
(run_e2e_parity.py), written with the official StateFun Python SDK 3.3.0 and
served as its docs show (aiohttp). Module: modules/parity.yaml.

Every record a function emits is a function of the messages of *one* egress
key in their order, so both runtimes must produce the same list per key
whatever the interleaving across addresses:

  diff.fns/account  commands (JSON diff.types/Cmd) from Kafka topic diff-in:
    add n          balance += n                  key <id>: "add n seen=k"
    transfer to n  balance -= n, credit -> to    key <id>: "transfer n to T seen=k"
    credit n       (from an account) balance += n
                                                 key <to>/from/<from>: "credit n from <caller>"
    hop h route    account -> relay(route[0]) -> ... -> account: "hopped"
                                                 key <id>/hop/<h>: "hopped h via r1>r2"
    arm t ms       send-after to itself, token t key <id>: "arm t ms"
    cancel t       cancel token t                key <id>: "cancel t"
    rearm t ms     cancel t and send-after with t in one invocation
                                                 key <id>: "rearm t ms"
    fire t via     (delayed) fired += [t]        key <id>/fire/<t>: "fired t via V"
    dump           its whole state as JSON       key <id>/dump
  diff.fns/relay    hop: relayed += 1, forwards; dump (topic diff-relay)
                                                 key relay/<id>/dump
  State: balance, credits, fired (no expiry); seen (expire after call) and
  last_op (expire after write), both 1 hour: long enough to be deterministic.

  python parity_fns.py --port PORT
"""
import argparse
import json
from datetime import timedelta

from aiohttp import web
from statefun import (Context, IntType, Message, RequestReplyHandler,
                      StatefulFunctions, StringType, ValueSpec,
                      kafka_egress_message, make_json_type, message_builder)

CMD = make_json_type("diff.types/Cmd")
FIRED = make_json_type("diff.types/Fired")
OUT = "diff.io/out"
HOUR = timedelta(hours=1)

functions = StatefulFunctions()


def emit(context, key, value):
    context.send_egress(kafka_egress_message(typename=OUT, topic="diff-out",
                                             key=key, value=value))


def to(typename, id_, cmd):
    return message_builder(target_typename=typename, target_id=id_,
                           value=cmd, value_type=CMD)


def account_ingress(context, me, cmd):
    """The commands that come from the ingress: counted in `seen`."""
    s = context.storage
    seen = (s.seen or 0) + 1
    s.seen = seen
    s.last_op = cmd["op"]
    op = cmd["op"]
    if op == "add":
        s.balance = (s.balance or 0) + cmd["n"]
        emit(context, me, "add %d seen=%d" % (cmd["n"], seen))
    elif op == "transfer":
        s.balance = (s.balance or 0) - cmd["n"]
        context.send(to("diff.fns/account", cmd["to"], {"op": "credit", "n": cmd["n"]}))
        emit(context, me, "transfer %d to %s seen=%d" % (cmd["n"], cmd["to"], seen))
    elif op == "hop":
        context.send(to("diff.fns/relay", cmd["route"][0],
                        {"op": "hop", "origin": me, "hop": cmd["hop"],
                         "route": cmd["route"], "at": 0}))
    elif op in ("arm", "rearm"):
        if op == "rearm":
            context.cancel_delayed_message(cmd["token"])
        context.send_after(timedelta(milliseconds=cmd["ms"]),
                           to("diff.fns/account", me,
                              {"op": "fire", "token": cmd["token"], "via": op}),
                           cancellation_token=cmd["token"])
        emit(context, me, "%s %s %d" % (op, cmd["token"], cmd["ms"]))
    elif op == "cancel":
        context.cancel_delayed_message(cmd["token"])
        emit(context, me, "cancel " + cmd["token"])
    else:
        raise ValueError("account: unknown op %r" % op)


@functions.bind(typename="diff.fns/account",
                specs=[ValueSpec(name="balance", type=IntType),
                       ValueSpec(name="credits", type=IntType),
                       ValueSpec(name="fired", type=FIRED),
                       ValueSpec(name="seen", type=IntType, expire_after_call=HOUR),
                       ValueSpec(name="last_op", type=StringType, expire_after_write=HOUR)])
async def account(context: Context, message: Message):
    cmd = message.as_type(CMD)
    me = context.address.id
    s = context.storage
    op = cmd["op"]
    if op == "credit":
        caller = context.caller
        s.balance = (s.balance or 0) + cmd["n"]
        s.credits = (s.credits or 0) + 1
        emit(context, "%s/from/%s" % (me, caller.id),
             "credit %d from %s/%s" % (cmd["n"], caller.typename, caller.id))
    elif op == "hopped":
        emit(context, "%s/hop/%s" % (me, cmd["hop"]),
             "hopped %s via %s" % (cmd["hop"], ">".join(cmd["route"])))
    elif op == "fire":
        s.fired = (s.fired or []) + [cmd["token"]]
        emit(context, "%s/fire/%s" % (me, cmd["token"]),
             "fired %s via %s" % (cmd["token"], cmd["via"]))
    elif op == "dump":
        emit(context, me + "/dump", json.dumps(
            {"balance": s.balance, "credits": s.credits,
             "fired": sorted(s.fired or []), "seen": s.seen,
             "last_op": s.last_op}, sort_keys=True))
    else:
        account_ingress(context, me, cmd)


@functions.bind(typename="diff.fns/relay",
                specs=[ValueSpec(name="relayed", type=IntType)])
async def relay(context: Context, message: Message):
    cmd = message.as_type(CMD)
    s = context.storage
    if cmd["op"] == "dump":
        emit(context, "relay/%s/dump" % context.address.id,
             json.dumps({"relayed": s.relayed}, sort_keys=True))
        return
    s.relayed = (s.relayed or 0) + 1
    at = cmd["at"] + 1
    if at < len(cmd["route"]):
        context.send(to("diff.fns/relay", cmd["route"][at], dict(cmd, at=at)))
    else:
        context.send(to("diff.fns/account", cmd["origin"],
                        {"op": "hopped", "hop": cmd["hop"], "route": cmd["route"]}))


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
