// An app written only with the official StateFun JavaScript SDK
// (apache-flink-statefun 3.3.0 from npm) and served as the SDK's docs show
// (node's http.createServer(statefun.handler())). The same contract as
// tests/sdkapps/python/app.py, under namespace jsapp (tests/sdkapps/README.md):
//   jsapp.fns/greeter  string or jsapp.types/Greet JSON from the playground
//                      ingress; `visits` expires 3 s after its last write;
//                      playground egress topic greetings; tells jsapp.fns/stats
//   jsapp.fns/stats    int adds to `total`, bool only reports; playground
//                      egress topic stats and Kinesis stream jsapp-stats
//   jsapp.fns/orders   protobuf sdkapps.Order from Kafka topic jsapp-orders;
//                      last order (protobuf state) and a count; Kafka egress
//                      topic jsapp-out; re-arms jsapp.fns/timer
//   jsapp.fns/timer    "arm:<ms>" cancels its timer and schedules a new one
//                      with the same token in one invocation; "fire:<n>"
//                      reports on Kafka egress topic jsapp-out
//
//   node app.js --port PORT     (NODE_PATH: the node_modules of scripts/node-env.sh)
"use strict";

const http = require("http");
const {StateFun, messageBuilder, egressMessageBuilder, kafkaEgressMessage,
       kinesisEgressMessage} = require("apache-flink-statefun");
const {Order} = require("./order_pb");

const NS = "jsapp";
const ORDER = StateFun.protoType("type.googleapis.com/sdkapps.Order", Order);
const GREET = StateFun.jsonType(`${NS}.types/Greet`);
const EGRESS_RECORD = StateFun.jsonType("io.statefun.playground/EgressRecord");
const KAFKA = `${NS}.io/kafka`;
const KINESIS = `${NS}.io/kinesis`;
const OUT_TOPIC = `${NS}-out`;

const statefun = new StateFun();

function playground(context, topic, payload) {
  context.send(egressMessageBuilder({typename: "io.statefun.playground/egress",
                                     value: {topic, payload},
                                     valueType: EGRESS_RECORD}));
}

function origin(context) {
  const c = context.caller;
  return c ? `${c.typename}/${c.id}` : "ingress";
}

statefun.bind({
  typename: `${NS}.fns/greeter`,
  specs: [{name: "visits", type: StateFun.intType(), expireAfterWrite: 3000}],
  fn(context, message) {
    let req;
    if (message.is(GREET)) {
      req = message.as(GREET);
    } else if (message.isString()) {
      req = {name: message.asString(), lang: "en"};
    } else {
      throw new Error(`greeter: unexpected type ${message.valueTypeName}`);
    }
    const visits = (context.storage.visits || 0) + 1;
    context.storage.visits = visits;
    const hello = req.lang === "de" ? "Hallo" : "Hello";
    playground(context, "greetings", `${hello}, ${req.name}! visit ${visits}`);
    context.send(messageBuilder({typename: `${NS}.fns/stats`, id: "greetings",
                                 value: 1, valueType: StateFun.intType()}));
  },
});

statefun.bind({
  typename: `${NS}.fns/stats`,
  specs: [{name: "total", type: StateFun.intType()}],
  fn(context, message) {
    let total = context.storage.total || 0;
    let text;
    if (message.isInt()) {
      const add = message.asInt();
      total += add;
      context.storage.total = total;
      text = `${context.self.id}: +${add} = ${total} (from ${origin(context)})`;
    } else if (message.isBoolean()) {
      text = `${context.self.id}: total ${total}`;
    } else {
      throw new Error(`stats: unexpected type ${message.valueTypeName}`);
    }
    playground(context, "stats", text);
    context.send(kinesisEgressMessage({typename: KINESIS, stream: `${NS}-stats`,
                                       partitionKey: context.self.id, value: text}));
  },
});

statefun.bind({
  typename: `${NS}.fns/orders`,
  specs: [{name: "last", type: ORDER}, {name: "count", type: StateFun.intType()}],
  fn(context, message) {
    const order = message.as(ORDER);
    const prev = context.storage.last;
    const count = (context.storage.count || 0) + 1;
    context.storage.count = count;
    context.storage.last = order;
    const text = `order ${order.getId()} #${count}: ${order.getQty()} x ` +
        `${order.getItem()} (previous: ${prev ? prev.getItem() : "none"})`;
    context.send(kafkaEgressMessage({typename: KAFKA, topic: OUT_TOPIC,
                                     key: context.self.id, value: text}));
    context.send(messageBuilder({typename: `${NS}.fns/timer`, id: context.self.id,
                                 value: "arm:3000"}));
  },
});

statefun.bind({
  typename: `${NS}.fns/timer`,
  specs: [{name: "arms", type: StateFun.intType()}],
  fn(context, message) {
    const cmd = message.asString();
    let arms = context.storage.arms || 0;
    const token = `t-${context.self.id}`;
    if (cmd.startsWith("arm:")) {
      arms += 1;
      context.storage.arms = arms;
      // reset the timer: cancel and re-schedule with the same token, in one
      // invocation (the runtime applies the two in this order)
      context.cancelDelayedMessage(token);
      context.sendAfter(parseInt(cmd.slice(4), 10),
                        messageBuilder({typename: `${NS}.fns/timer`, id: context.self.id,
                                        value: `fire:${arms}`}),
                        token);
    } else if (cmd.startsWith("fire:")) {
      context.send(kafkaEgressMessage({typename: KAFKA, topic: OUT_TOPIC,
                                       key: `${context.self.id}/timer`,
                                       value: `fired ${cmd.slice(5)} after ${arms} arm(s)`}));
    } else {
      throw new Error(`timer: unknown command ${cmd}`);
    }
  },
});

function port() {
  const i = process.argv.indexOf("--port");
  return i > 0 ? parseInt(process.argv[i + 1], 10) : 8000;
}

http.createServer(statefun.handler()).listen(port(), "127.0.0.1");
