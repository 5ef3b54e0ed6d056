/*
 * Peer.java - the benchmark's two functions written with the official
 * StateFun Java SDK 3.3.0 and served the way the StateFun playground's Java
 * greeter serves its functions: an Undertow HTTP listener whose handler
 * reads the whole body, dispatches, and hands it to the SDK's
 * RequestReplyHandler.
 *
 *   greeter.fns/greet  the logic of examples/greeter/greet.c: count visits
 *                      in `seen`, greet on the Kafka egress, remind after
 *                      the first visit and cancel on the second
 *   bench.fns/state    read the raw state `blob`, write back a copy whose
 *                      first 8 bytes (a little-endian counter) are one more
 *
 *   java -jar java-peer.jar --port PORT   (listens on 127.0.0.1)
 */
package bench;

import io.undertow.Undertow;
import io.undertow.server.HttpHandler;
import io.undertow.server.HttpServerExchange;
import io.undertow.util.Headers;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import org.apache.flink.statefun.sdk.java.Context;
import org.apache.flink.statefun.sdk.java.StatefulFunction;
import org.apache.flink.statefun.sdk.java.StatefulFunctionSpec;
import org.apache.flink.statefun.sdk.java.StatefulFunctions;
import org.apache.flink.statefun.sdk.java.TypeName;
import org.apache.flink.statefun.sdk.java.ValueSpec;
import org.apache.flink.statefun.sdk.java.handler.RequestReplyHandler;
import org.apache.flink.statefun.sdk.java.io.KafkaEgressMessage;
import org.apache.flink.statefun.sdk.java.message.Message;
import org.apache.flink.statefun.sdk.java.message.MessageBuilder;
import org.apache.flink.statefun.sdk.java.slice.Slice;
import org.apache.flink.statefun.sdk.java.slice.Slices;
import org.apache.flink.statefun.sdk.java.types.SimpleType;
import org.apache.flink.statefun.sdk.java.types.Type;

public final class Peer {
  static final TypeName GREET = TypeName.typeNameFromString("greeter.fns/greet");
  static final TypeName EGRESS = TypeName.typeNameFromString("greeter.io/greetings");
  static final TypeName STATE = TypeName.typeNameFromString("bench.fns/state");
  static final Type<byte[]> BLOB_TYPE =
      SimpleType.simpleImmutableTypeFrom(
          TypeName.typeNameFromString("bench.types/blob"), b -> b, b -> b);
  static final ValueSpec<Integer> SEEN = ValueSpec.named("seen").withIntType();
  static final ValueSpec<byte[]> BLOB = ValueSpec.named("blob").withCustomType(BLOB_TYPE);

  /** greeter.fns/greet, as examples/greeter/greet.c. */
  static final class Greet implements StatefulFunction {
    @Override
    public CompletableFuture<Void> apply(Context context, Message message) {
      if (!message.isUtf8String()) {
        throw new IllegalArgumentException("greeter.fns/greet expects a string");
      }
      int seen = context.storage().get(SEEN).orElse(0) + 1;
      context.storage().set(SEEN, seen);
      String id = context.self().id();
      context.send(
          KafkaEgressMessage.forEgress(EGRESS)
              .withTopic("greetings")
              .withUtf8Key(id)
              .withUtf8Value("Hello, " + id + "! You have been here " + seen + " time(s).")
              .build());
      String token = "remind-" + id;
      if (seen == 1) {
        context.sendAfter(
            Duration.ofMillis(60000),
            token,
            MessageBuilder.forAddress(GREET, id).withValue(id).build());
      } else if (seen == 2) {
        context.cancelDelayedMessage(token);
      }
      return context.done();
    }
  }

  /** bench.fns/state: copy the blob with its counter incremented. */
  static final class State implements StatefulFunction {
    @Override
    public CompletableFuture<Void> apply(Context context, Message message) {
      byte[] old = context.storage().get(BLOB).orElse(new byte[8]);
      byte[] blob = Arrays.copyOf(old, Math.max(old.length, 8));
      long n = 0;
      for (int i = 7; i >= 0; i--) n = (n << 8) | (blob[i] & 0xff);
      n++;
      for (int i = 0; i < 8; i++) blob[i] = (byte) (n >>> (8 * i));
      context.storage().set(BLOB, blob);
      return context.done();
    }
  }

  /** The playground's Undertow handler: whole body, dispatch, SDK, reply. */
  static final class Handler implements HttpHandler {
    private final RequestReplyHandler handler;

    Handler(RequestReplyHandler handler) {
      this.handler = handler;
    }

    @Override
    public void handleRequest(HttpServerExchange exchange) {
      exchange.getRequestReceiver().receiveFullBytes(this::onBody);
    }

    private void onBody(HttpServerExchange exchange, byte[] body) {
      exchange.dispatch();
      handler
          .handle(Slices.wrap(body))
          .whenComplete((reply, error) -> onReply(exchange, reply, error));
    }

    private void onReply(HttpServerExchange exchange, Slice reply, Throwable error) {
      if (error != null) {
        error.printStackTrace(System.err);
        exchange.setStatusCode(500);
        exchange.endExchange();
        return;
      }
      exchange.getResponseHeaders().put(Headers.CONTENT_TYPE, "application/octet-stream");
      exchange.getResponseSender().send(reply.asReadOnlyByteBuffer());
    }
  }

  public static void main(String[] args) {
    int port = 8000;
    for (int i = 0; i + 1 < args.length; i += 2) {
      if (args[i].equals("--port")) port = Integer.parseInt(args[i + 1]);
      else throw new IllegalArgumentException("usage: --port PORT");
    }
    StatefulFunctions functions = new StatefulFunctions();
    functions.withStatefulFunction(
        StatefulFunctionSpec.builder(GREET).withValueSpec(SEEN).withSupplier(Greet::new).build());
    functions.withStatefulFunction(
        StatefulFunctionSpec.builder(STATE).withValueSpec(BLOB).withSupplier(State::new).build());
    Undertow.builder()
        .addHttpListener(port, "127.0.0.1")
        .setHandler(new Handler(functions.requestReplyHandler()))
        .build()
        .start();
  }
}
