/*
 * An out-of-tree program built against an *installed* statefun-c (see
 * tests/install/run.sh): registers a function, handles two hand-encoded
 * ToFunction requests (state missing, then present) and checks the replies
 * byte by byte. A second function keeps JSON state (jansson) and sends a
 * message of the program's own protobuf type (protoc-c, point.proto), so
 * the program itself calls jansson and protobuf-c: it links only if the
 * installed package passes them on (pkg-config Requires:, the CMake
 * target's interface). With -DSF_WITH_SERVER it also serves the handler
 * with libstatefun_server on an ephemeral port and POSTs the request over
 * a plain socket.
 */
#include <statefun/statefun.h>
#ifdef SF_WITH_SERVER
#include <statefun/server.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "point.pb-c.h"

static int failures;
#define CHECK(c)                                                   \
  do {                                                             \
    if (!(c)) {                                                    \
      fprintf(stderr, "consumer: check failed: %s (line %d)\n", #c, \
              __LINE__);                                           \
      failures++;                                                  \
    }                                                              \
  } while (0)

static const sf_value_spec seen = SF_VALUE_SPEC("seen", &sf_type_int);

static sf_status counter(sf_context *ctx, const sf_message *msg, void *ud) {
  (void)ud;
  const char *name;
  size_t len;
  sf_status st = sf_message_as_string(msg, &name, &len);
  if (st != SF_OK) return sf_context_fail(ctx, "not a string: %d", st);
  int32_t n = 0;
  st = sf_state_get_int(ctx, &seen, &n);
  if (st != SF_OK && st != SF_ERR_NO_VALUE) return st;
  st = sf_state_set_int(ctx, &seen, n + 1);
  if (st != SF_OK) return st;
  return sf_send(ctx, "install.fns/other", "peer",
                 sf_value_string(ctx, name, len));
}

/* ---- user types: JSON state in, the program's own protobuf out ----- */
static const sf_type profile_t = SF_TYPE_JSON("install.types/Profile");
static const sf_type point_t = SF_TYPE_PROTO(
    "type.googleapis.com/install.Point", &install__point__descriptor);
static const sf_value_spec profile = SF_VALUE_SPEC("profile", &profile_t);

/* {"name": N} in; the state {"name": N, "visits": V+1}; an install.Point
 * {x: V+1, label: N} out to install.fns/other. */
static sf_status visitor(sf_context *ctx, const sf_message *msg, void *ud) {
  (void)ud;
  /* JSON values from the SDK are the request's (never json_decref'd);
   * `fresh` is ours. */
  json_t *in = NULL, *state = NULL, *fresh = NULL;
  sf_status st = sf_message_as_json(ctx, msg, &profile_t, &in);
  if (st != SF_OK) return st;
  st = sf_state_get_json(ctx, &profile, &state);
  if (st == SF_ERR_NO_VALUE) {
    state = fresh = json_object();
    st = SF_OK;
  }
  if (st == SF_OK) {
    json_int_t visits =
        json_integer_value(json_object_get(state, "visits")) + 1;
    json_object_set_new(state, "visits", json_integer(visits));
    json_object_set(state, "name", json_object_get(in, "name"));
    st = sf_state_set_json(ctx, &profile, state);
    Install__Point p = INSTALL__POINT__INIT;
    p.x = (int32_t)visits;
    p.label = (char *)json_string_value(json_object_get(in, "name"));
    if (st == SF_OK && p.label)
      st = sf_send(ctx, "install.fns/other", "peer",
                   sf_value_proto(ctx, &point_t, &p.base));
  }
  json_decref(fresh);
  return st;
}

/* ---- a few lines of protobuf encoding for the request --------------- */
typedef struct {
  unsigned char b[512];
  size_t n;
} buf;
static void put(buf *o, const void *d, size_t n) {
  memcpy(o->b + o->n, d, n);
  o->n += n;
}
static void varint(buf *o, unsigned long v) {
  do {
    unsigned char c = v & 0x7f;
    v >>= 7;
    if (v) c |= 0x80;
    put(o, &c, 1);
  } while (v);
}
static void lenf(buf *o, unsigned field, const void *d, size_t n) {
  varint(o, (field << 3) | 2);
  varint(o, n);
  put(o, d, n);
}
static void str(buf *o, unsigned field, const char *s) {
  lenf(o, field, s, strlen(s));
}
static void typed(buf *o, unsigned field, const char *tn, const void *v,
                  size_t n) {
  buf t = {.n = 0};
  str(&t, 1, tn);
  varint(&t, (2 << 3) | 0);
  varint(&t, 1);
  lenf(&t, 3, v, n);
  lenf(o, field, t.b, t.n);
}

/* One batch for install.fns/<fn> at id "alice": a state cell when
 * state_name is set, and one invocation with the argument arg. */
typedef struct {
  const char *fn;
  const char *state_name, *state_tn;
  const void *state;
  size_t state_len;
  const char *arg_tn;
  const void *arg;
  size_t arg_len;
} call;

/* ToFunction{invocation{target, state[...], invocations[{arg}]}} */
static buf request(const call *c) {
  buf batch = {.n = 0}, addr = {.n = 0}, inv = {.n = 0}, st = {.n = 0};
  str(&addr, 1, "install.fns");
  str(&addr, 2, c->fn);
  str(&addr, 3, "alice");
  lenf(&batch, 1, addr.b, addr.n);
  if (c->state_name) {
    str(&st, 1, c->state_name);
    typed(&st, 2, c->state_tn, c->state, c->state_len);
    lenf(&batch, 2, st.b, st.n);
  }
  typed(&inv, 2, c->arg_tn, c->arg, c->arg_len);
  lenf(&batch, 3, inv.b, inv.n);
  buf req = {.n = 0};
  lenf(&req, 100, batch.b, batch.n);
  return req;
}

/* The counter's request: "world", with seen = seen_value if with_state. */
static buf counter_request(int with_state, int32_t seen_value) {
  static const unsigned char world[] = {0x0a, 5, 'w', 'o', 'r', 'l', 'd'};
  unsigned char v[5];
  call c = {.fn = "counter", .arg_tn = SF_TYPENAME_STRING, .arg = world,
            .arg_len = sizeof world};
  if (with_state) {
    c.state_name = "seen";
    c.state_tn = SF_TYPENAME_INT;
    c.state = v;
    c.state_len = sf_encode_int(seen_value, v);
  }
  return request(&c);
}

static int contains(const unsigned char *hay, size_t n, const void *needle,
                    size_t m) {
  for (size_t i = 0; m <= n && i + m <= n; i++)
    if (memcmp(hay + i, needle, m) == 0) return 1;
  return 0;
}

#ifdef SF_WITH_SERVER
static void over_http(const sf_handler *h, const buf *req,
                      const unsigned char *want, size_t want_len) {
  sf_server_options opts;
  memset(&opts, 0, sizeof opts);
  opts.port = 0;
  opts.threads = 1;
  opts.quiet = 1;
  sf_status status = SF_OK;
  char err[256] = "";
  sf_server *srv = sf_server_start(h, &opts, &status, err, sizeof err);
  CHECK(srv != NULL);
  if (!srv) {
    fprintf(stderr, "consumer: sf_server_start: %d %s\n", status, err);
    return;
  }
  unsigned port = sf_server_port(srv);
  CHECK(port != 0);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
  char head[256];
  int hn = snprintf(head, sizeof head,
                    "POST /statefun/install.fns/counter HTTP/1.1\r\n"
                    "Host: 127.0.0.1\r\n"
                    "Content-Type: application/octet-stream\r\n"
                    "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                    req->n);
  CHECK(write(fd, head, (size_t)hn) == hn);
  CHECK(write(fd, req->b, req->n) == (ssize_t)req->n);
  static unsigned char resp[65536];
  size_t rn = 0;
  ssize_t got;
  while (rn < sizeof resp && (got = read(fd, resp + rn, sizeof resp - rn)) > 0)
    rn += (size_t)got;
  close(fd);
  CHECK(rn > 12 && memcmp(resp, "HTTP/1.1 200", 12) == 0);
  CHECK(contains(resp, rn, want, want_len));
  sf_server_stop(srv);
  printf("consumer: HTTP on port %u: %.12s, %zu bytes\n", port, resp, rn);
}
#endif

/* The visitor: JSON state {"name":"bob","visits":2} and message
 * {"name":"world"} give the state {"name":"world","visits":3} and an
 * install.Point{x: 3, label: "world"}, packed here by protoc-c's code. */
static void user_types(sf_handler *h, sf_arena *arena) {
  json_t *arg = json_pack("{s:s}", "name", "world");
  char *arg_text = json_dumps(arg, JSON_COMPACT);
  static const char state[] = "{\"name\":\"bob\",\"visits\":2}";
  call c = {.fn = "visitor", .state_name = "profile",
            .state_tn = profile_t.type_name, .state = state,
            .state_len = strlen(state), .arg_tn = profile_t.type_name,
            .arg = arg_text, .arg_len = strlen(arg_text)};
  buf req = request(&c);
  free(arg_text);
  json_decref(arg);

  sf_arena_reset(arena);
  uint8_t *reply = NULL;
  size_t reply_len = 0;
  sf_handle_info info;
  CHECK(sf_handler_handle(h, req.b, req.n, arena, &reply, &reply_len,
                          &info) == SF_OK);
  CHECK(!info.incomplete && info.invocations == 1);
  static const char want_state[] = "{\"name\":\"world\",\"visits\":3}";
  CHECK(contains(reply, reply_len, want_state, strlen(want_state)));
  Install__Point want = INSTALL__POINT__INIT;
  want.x = 3;
  want.label = "world";
  uint8_t packed[64];
  size_t packed_len = install__point__pack(&want, packed);
  CHECK(packed_len > 0 && contains(reply, reply_len, packed, packed_len));
  CHECK(contains(reply, reply_len, point_t.type_name,
                 strlen(point_t.type_name)));
  printf("consumer: JSON state and install.Point (%zu bytes) in the reply\n",
         packed_len);
}

int main(void) {
  printf("consumer: statefun %s\n", SF_VERSION_STRING);
  sf_handler *h = sf_handler_new();
  CHECK(h != NULL);
  const sf_value_spec *specs[] = {&seen};
  CHECK(sf_handler_register(h, "install.fns/counter", counter, NULL, specs,
                            1) == SF_OK);
  const sf_value_spec *visitor_specs[] = {&profile};
  CHECK(sf_handler_register(h, "install.fns/visitor", visitor, NULL,
                            visitor_specs, 1) == SF_OK);
  sf_arena *arena = sf_arena_new(1 << 20);
  CHECK(arena != NULL);
  uint8_t *reply = NULL;
  size_t reply_len = 0;
  sf_handle_info info;

  /* 1. No state yet: the reply asks for it (IncompleteInvocationContext). */
  buf req = counter_request(0, 0);
  CHECK(sf_handler_handle(h, req.b, req.n, arena, &reply, &reply_len, &info) ==
        SF_OK);
  CHECK(info.incomplete);
  CHECK(reply_len > 2 && reply[0] == 0xAA && reply[1] == 0x06);
  CHECK(contains(reply, reply_len, "seen", 4));
  CHECK(contains(reply, reply_len, SF_TYPENAME_INT, strlen(SF_TYPENAME_INT)));

  /* 2. seen = 41: one invocation, seen becomes 42, one message out. */
  sf_arena_reset(arena);
  req = counter_request(1, 41);
  CHECK(sf_handler_handle(h, req.b, req.n, arena, &reply, &reply_len, &info) ==
        SF_OK);
  CHECK(!info.incomplete && info.invocations == 1);
  CHECK(reply_len > 2 && reply[0] == 0xA2 && reply[1] == 0x06);
  unsigned char v42[5];
  size_t v42n = sf_encode_int(42, v42);
  CHECK(contains(reply, reply_len, v42, v42n));
  CHECK(contains(reply, reply_len, "install.fns", 11));
  CHECK(contains(reply, reply_len, "peer", 4));
  CHECK(contains(reply, reply_len, "world", 5));
  printf("consumer: handler reply %zu bytes, %zu invocation(s)\n", reply_len,
         info.invocations);

#ifdef SF_WITH_SERVER
  over_http(h, &req, v42, v42n);
#endif
  user_types(h, arena);

  sf_arena_free(arena);
  sf_handler_free(h);
  if (failures) {
    fprintf(stderr, "consumer: %d check(s) failed\n", failures);
    return 1;
  }
  printf("consumer: OK\n");
  return 0;
}
