// bench/peers/js/peer.js - the benchmark's two functions written with the
// official StateFun JavaScript SDK (npm apache-flink-statefun 3.3.0, as
// installed by scripts/node-env.sh) and served as the SDK's docs and the
// playground's greeter show: http.createServer(statefun.handler()).
//
//   greeter.fns/greet  the logic of examples/greeter/greet.c: count visits
//                      in `seen`, greet on the Kafka egress, remind after
//                      the first visit and cancel on the second
//   bench.fns/state    read the raw state `blob`, write back a copy whose
//                      first 8 bytes (a little-endian counter) are one more
//
//   NODE_PATH=<node_modules> node peer.js --port PORT   (listens on 127.0.0.1)
"use strict";

const http = require("http");
const {StateFun, messageBuilder, kafkaEgressMessage} = require("apache-flink-statefun");

const BLOB = StateFun.customType("bench.types/blob", (b) => b, (b) => b);

async function greet(context, message) {
  if (!message.isString()) {
    throw new Error(`greeter.fns/greet expects a string, got ${message.valueTypeName}`);
  }
  const seen = (context.storage.seen || 0) + 1;
  context.storage.seen = seen;
  const id = context.self.id;
  context.send(kafkaEgressMessage({
    typename: "greeter.io/greetings",
    topic: "greetings",
    key: id,
    value: `Hello, ${id}! You have been here ${seen} time(s).`,
  }));
  const token = `remind-${id}`;
  if (seen === 1) {
    context.sendAfter(60000, messageBuilder({typename: "greeter.fns/greet", id, value: id}),
                      token);
  } else if (seen === 2) {
    context.cancelDelayedMessage(token);
  }
}

async function state(context) {
  const old = context.storage.blob || Buffer.alloc(8);
  const blob = Buffer.alloc(Math.max(old.length, 8));
  old.copy(blob);
  blob.writeBigUInt64LE(blob.readBigUInt64LE(0) + 1n, 0);
  context.storage.blob = blob;
}

function main() {
  let port = 8000;
  const args = process.argv.slice(2);
  for (let i = 0; i + 1 < args.length; i += 2) {
    if (args[i] !== "--port") throw new Error("usage: peer.js --port PORT");
    port = Number(args[i + 1]);
  }
  const statefun = new StateFun();
  statefun.bind({typename: "greeter.fns/greet", fn: greet,
                 specs: [{name: "seen", type: StateFun.intType()}]});
  statefun.bind({typename: "bench.fns/state", fn: state,
                 specs: [{name: "blob", type: BLOB}]});
  http.createServer(statefun.handler()).listen(port, "127.0.0.1");
}

main();
