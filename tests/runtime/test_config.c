/*
 * test_config.c - sf-local's module.yaml reader (runtime/src/config.c).
 *
 * Good files parse to the expected structs (the PROTOCOL.md example, the
 * playground's file, wildcard vs specific patterns, every duration syntax,
 * transport defaults). Every file in tests/runtime/bad-modules starts with
 * "# expect: LINE:COL: message", and loading it must fail with exactly
 * "<path>:LINE:COL: message".
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "config.h"

#define GOOD SFL_TEST_DIR "/good-modules/"
#define BAD SFL_TEST_DIR "/bad-modules"

static sfl_config cfg;
static char err[1024];

static void parse_ok(const char *yaml) {
  int rc = sfl_config_parse("m.yaml", yaml, strlen(yaml), &cfg, err, sizeof err);
  cr_assert_eq(rc, 0, "unexpected error: %s", err);
}

static void parse_err(const char *yaml, const char *expect) {
  int rc = sfl_config_parse("m.yaml", yaml, strlen(yaml), &cfg, err, sizeof err);
  cr_assert_eq(rc, -1, "expected an error for:\n%s", yaml);
  cr_expect_str_eq(err, expect);
  cr_expect_eq(cfg.n_endpoints + cfg.n_ingresses + cfg.n_egresses, 0);
}

static void teardown(void) { sfl_config_free(&cfg); }

TestSuite(config, .fini = teardown);

/* ---- good files -------------------------------------------------------- */

Test(config, protocol_example) {
  cr_assert_eq(sfl_config_load(GOOD "protocol-example.yaml", &cfg, err, sizeof err),
               0, "%s", err);
  cr_assert_eq(cfg.n_endpoints, 1);
  const sfl_endpoint *ep = &cfg.endpoints[0];
  cr_expect_str_eq(ep->functions, "com.example.fns/*");
  cr_expect_str_eq(ep->url_template,
                   "http://functions:8000/statefun/{function.name}");
  cr_expect_eq(ep->max_batch, 1000);
  cr_expect_eq(ep->transport, SFL_TRANSPORT_ASYNC);
  cr_expect_eq(ep->call_timeout_ms, 120000);
  cr_expect_eq(ep->connect_timeout_ms, 20000);
  cr_expect_eq(ep->payload_max_bytes, 33554432u);
  cr_expect_eq(ep->line, 2);

  cr_assert_eq(cfg.n_ingresses, 1);
  const sfl_ingress *in = &cfg.ingresses[0];
  cr_expect_str_eq(in->id, "com.example/orders-in");
  cr_expect_eq(in->kind, SFL_KAFKA);
  cr_expect_eq(in->line, 12);
  cr_assert_eq(in->n_routes, 1);
  cr_expect_str_eq(in->routes[0].topic, "orders");
  cr_expect_str_eq(in->routes[0].value_type, "com.example/Order");
  cr_assert_eq(in->routes[0].n_targets, 1);
  cr_expect_str_eq(in->routes[0].targets[0], "com.example.fns/order");

  cr_assert_eq(cfg.n_egresses, 1);
  cr_expect_str_eq(cfg.egresses[0].id, "com.example/receipts");
  cr_expect_eq(cfg.egresses[0].kind, SFL_KAFKA);
  cr_expect(cfg.egresses[0].exactly_once);

  char *url = sfl_endpoint_url(ep, "com.example.fns/order");
  cr_expect_str_eq(url, "http://functions:8000/statefun/order");
  free(url);
}

Test(config, playground_file) {
  cr_assert_eq(sfl_config_load(GOOD "playground.yaml", &cfg, err, sizeof err), 0,
               "%s", err);
  cr_expect_str_eq(cfg.path, GOOD "playground.yaml");
  cr_assert_eq(cfg.n_endpoints, 1);
  cr_expect_str_eq(cfg.endpoints[0].functions, "example/*");
  cr_expect_eq(cfg.endpoints[0].transport, SFL_TRANSPORT_ASYNC);
  cr_assert_eq(cfg.n_ingresses, 1);
  cr_expect_eq(cfg.ingresses[0].kind, SFL_PLAYGROUND);
  cr_expect_str_eq(cfg.ingresses[0].id, "io.statefun.playground/ingress");
  cr_expect_eq(cfg.ingresses[0].port, 8090);
  cr_expect_eq(cfg.ingresses[0].n_routes, 0);
  cr_assert_eq(cfg.n_egresses, 1);
  cr_expect_eq(cfg.egresses[0].kind, SFL_PLAYGROUND);
  cr_expect_str_eq(cfg.egresses[0].id, "io.statefun.playground/egress");
  cr_expect_eq(cfg.egresses[0].port, 8091);
  cr_assert_eq(cfg.egresses[0].n_topics, 1);
  cr_expect_str_eq(cfg.egresses[0].topics[0], "greetings");
  /* No {function.name}: every function of the namespace gets the same URL. */
  char *url = sfl_endpoint_url(&cfg.endpoints[0], "example/greeter");
  cr_expect_str_eq(url, "http://functions:8000/statefun");
  free(url);
}

Test(config, specific_beats_wildcard) {
  parse_ok("kind: io.statefun.endpoints.v2/http\n"
           "spec:\n"
           "  functions: shop/*\n"
           "  urlPathTemplate: http://all:8000/{function.name}\n"
           "---\n"
           "kind: io.statefun.endpoints.v2/http\n"
           "spec:\n"
           "  functions: shop/cart\n"
           "  urlPathTemplate: https://cart:9000/fn/{function.name}/x/{function.name}\n"
           "---\n"
           "kind: io.statefun.endpoints.v2/http\n"
           "spec:\n"
           "  functions: shopping/*\n"
           "  urlPathTemplate: http://other:8000/\n");
  cr_assert_eq(cfg.n_endpoints, 3);
  const sfl_endpoint *ep = sfl_config_endpoint_for(&cfg, "shop/cart");
  cr_assert_not_null(ep);
  cr_expect_str_eq(ep->functions, "shop/cart");
  char *url = sfl_endpoint_url(ep, "shop/cart");
  cr_expect_str_eq(url, "https://cart:9000/fn/cart/x/cart");
  free(url);

  ep = sfl_config_endpoint_for(&cfg, "shop/checkout");
  cr_assert_not_null(ep);
  cr_expect_str_eq(ep->functions, "shop/*");
  url = sfl_endpoint_url(ep, "shop/checkout");
  cr_expect_str_eq(url, "http://all:8000/checkout");
  free(url);

  ep = sfl_config_endpoint_for(&cfg, "shopping/x");
  cr_assert_not_null(ep);
  cr_expect_str_eq(ep->functions, "shopping/*");
  cr_expect_null(sfl_config_endpoint_for(&cfg, "sho/x"));
  cr_expect_null(sfl_config_endpoint_for(&cfg, "other/x"));
  cr_expect_null(sfl_config_endpoint_for(&cfg, "shop"));
}

Test(config, specific_first_in_file_still_wins) {
  parse_ok("kind: io.statefun.endpoints.v2/http\n"
           "spec: {functions: a/b, urlPathTemplate: 'http://b'}\n"
           "---\n"
           "kind: io.statefun.endpoints.v2/http\n"
           "spec: {functions: a/*, urlPathTemplate: 'http://star'}\n");
  cr_expect_str_eq(sfl_config_endpoint_for(&cfg, "a/b")->url_template, "http://b");
  cr_expect_str_eq(sfl_config_endpoint_for(&cfg, "a/c")->url_template,
                   "http://star");
}

static int64_t call_ms(const char *duration) {
  char yaml[512];
  snprintf(yaml, sizeof yaml,
           "kind: io.statefun.endpoints.v2/http\n"
           "spec:\n"
           "  functions: a/*\n"
           "  urlPathTemplate: http://x\n"
           "  transport:\n"
           "    call: %s\n",
           duration);
  sfl_config c;
  int rc = sfl_config_parse("d.yaml", yaml, strlen(yaml), &c, err, sizeof err);
  cr_assert_eq(rc, 0, "'%s': %s", duration, err);
  int64_t ms = c.endpoints[0].call_timeout_ms;
  sfl_config_free(&c);
  return ms;
}

Test(config, durations) {
  static const struct {
    const char *text;
    int64_t ms;
  } cases[] = {
      {"500", 500},         {"500ms", 500},           {"500 ms", 500},
      {"7milli", 7},        {"7millis", 7},           {"7 millisecond", 7},
      {"7milliseconds", 7}, {"20s", 20000},           {"20 sec", 20000},
      {"20secs", 20000},    {"1second", 1000},        {"2 seconds", 2000},
      {"2m", 120000},       {"2min", 120000},         {"15 min", 900000},
      {"1minute", 60000},   {"3 minutes", 180000},    {"1h", 3600000},
      {"1hour", 3600000},   {"2 hours", 7200000},     {"1d", 86400000},
      {"1day", 86400000},   {"2 days", 172800000},    {"'  2MIN  '", 120000},
      {"\"1Min\"", 60000},  {"1500micros", 2},
      {"1nanos", 1},        {"1000000ns", 1},          {"2000000 nanoseconds", 2},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    cr_expect_eq(call_ms(cases[i].text), cases[i].ms, "%s", cases[i].text);
  cr_expect_eq(call_ms("1500\xc2\xb5s"), 2); /* Flink's "µs" */
}

Test(config, bad_durations) {
  static const struct {
    const char *text, *why;
  } cases[] = {
      {"soon", "does not start with a number"},
      {"1500us", "unknown unit"},
      {"1.5s", "unknown unit"},
      {"-1s", "does not start with a number"},
      {"2 fortnights", "unknown unit"},
      {"99999999999999999999", "too large"},
      {"9999999999999999d", "too large"},
      {"1mins", "unknown unit"}, /* Flink: "min" has no plural */
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char yaml[256], expect[512];
    snprintf(yaml, sizeof yaml,
             "kind: io.statefun.endpoints.v2/http\n"
             "spec:\n"
             "  functions: a/*\n"
             "  urlPathTemplate: http://x\n"
             "  transport: {connect: %s}\n",
             cases[i].text);
    snprintf(expect, sizeof expect,
             "m.yaml:5:24: invalid duration '%s' for 'connect' (%s): expected a "
             "number with an optional unit ms, s, min, h or d, e.g. 2min, 20s, "
             "500ms",
             cases[i].text, cases[i].why);
    parse_err(yaml, expect);
  }
  parse_err("kind: io.statefun.endpoints.v2/http\n"
            "spec:\n"
            "  functions: a/*\n"
            "  urlPathTemplate: http://x\n"
            "  transport:\n"
            "    call: 0s\n",
            "m.yaml:6:11: 'call' must be larger than 0");
}

Test(config, defaults_per_transport) {
  parse_ok("kind: io.statefun.endpoints.v2/http\n"
           "spec: {functions: a/*, urlPathTemplate: 'http://x'}\n"
           "---\n"
           "kind: io.statefun.endpoints.v1/http\n"
           "spec: {functions: b/*, urlPathTemplate: 'http://x'}\n"
           "---\n"
           "kind: io.statefun.endpoints.v2/http\n"
           "spec:\n"
           "  functions: c/*\n"
           "  urlPathTemplate: http://x\n"
           "  transport: {type: io.statefun.transports.v1/okhttp}\n"
           "---\n"
           "kind: io.statefun.endpoints.v2/http\n"
           "spec:\n"
           "  functions: d/*\n"
           "  urlPathTemplate: http://x\n"
           "  maxNumBatchRequests: 7\n"
           "  transport:\n"
           "    call: 30s\n"
           "    connect: 3s\n"
           "    timeouts: {connect: 5s}\n" /* legacy block wins, call -> 1m */
           "---\n"
           "kind: io.statefun.endpoints.v1/http\n"
           "spec:\n"
           "  functions: e/*\n"
           "  urlPathTemplate: http+unix:///tmp/fn.sock/statefun\n"
           "  timeouts: {call: 2m, connect: 1s, read: 20s, write: 30s}\n");
  cr_assert_eq(cfg.n_endpoints, 5);
  const sfl_endpoint *e = cfg.endpoints;
  /* v2 default transport: async, call 2m, connect 20s */
  cr_expect_eq(e[0].transport, SFL_TRANSPORT_ASYNC);
  cr_expect_eq(e[0].max_batch, 1000);
  cr_expect_eq(e[0].call_timeout_ms, 120000);
  cr_expect_eq(e[0].connect_timeout_ms, 20000);
  cr_expect_eq(e[0].payload_max_bytes, 32u << 20);
  /* v1: okhttp, call 1m, connect/read/write 10s */
  cr_expect_eq(e[1].transport, SFL_TRANSPORT_OKHTTP);
  cr_expect_eq(e[1].call_timeout_ms, 60000);
  cr_expect_eq(e[1].connect_timeout_ms, 10000);
  cr_expect_eq(e[1].read_timeout_ms, 10000);
  cr_expect_eq(e[1].write_timeout_ms, 10000);
  cr_expect_eq(e[1].payload_max_bytes, 0);
  /* v2 with okhttp: the okhttp defaults */
  cr_expect_eq(e[2].transport, SFL_TRANSPORT_OKHTTP);
  cr_expect_eq(e[2].call_timeout_ms, 60000);
  cr_expect_eq(e[2].connect_timeout_ms, 10000);
  /* async with legacy timeouts: the block wins, with its own defaults */
  cr_expect_eq(e[3].max_batch, 7);
  cr_expect_eq(e[3].call_timeout_ms, 60000);
  cr_expect_eq(e[3].connect_timeout_ms, 5000);
  /* v1 with all four timeouts, http+unix accepted (okhttp) but flagged */
  cr_expect_eq(e[4].call_timeout_ms, 120000);
  cr_expect_eq(e[4].connect_timeout_ms, 1000);
  cr_expect_eq(e[4].read_timeout_ms, 20000);
  cr_expect_eq(e[4].write_timeout_ms, 30000);
  cr_expect(e[4].unix_socket);
  cr_expect(!e[0].unix_socket);
}

Test(config, null_documents_and_comments) {
  parse_ok("# only comments\n---\n---\n~\n---\nnull\n...\n");
  cr_expect_eq(cfg.n_endpoints + cfg.n_ingresses + cfg.n_egresses, 0);
  sfl_config_free(&cfg);
  parse_ok("");
  sfl_config_free(&cfg);
  parse_ok("---\n"
           "kind: io.statefun.endpoints.v2/http\n"
           "spec: {functions: a/*, urlPathTemplate: 'http://x'}\n"
           "---\n");
  cr_expect_eq(cfg.n_endpoints, 1);
  cr_expect_eq(cfg.endpoints[0].line, 2);
}

Test(config, kinesis_and_anchors) {
  parse_ok("kind: io.statefun.kafka.v1/ingress\n"
           "spec:\n"
           "  id: k/in\n"
           "  unknownKafkaKey: ignored\n"
           "  topics:\n"
           "    - topic: t1\n"
           "      valueType: k/T\n"
           "      targets: &fns [k/a, k/b]\n"
           "    - topic: t2\n"
           "      valueType: k/T\n"
           "      targets: *fns\n"
           "---\n"
           "kind: io.statefun.kinesis.v1/ingress\n"
           "spec:\n"
           "  id: k/kin\n"
           "  awsRegion: {type: custom-endpoint, endpoint: 'http://localhost:4567', id: us-west-1}\n"
           "  awsCredentials: {type: basic, accessKeyId: a, secretAccessKey: b}\n"
           "  startupPosition: {type: date, date: '2020-02-01 04:15:00.000 -0700'}\n"
           "  streams:\n"
           "    - {stream: s, valueType: k/T, targets: [k/c]}\n"
           "  clientConfigProperties:\n"
           "    - SocketTimeout: 9999\n"
           "---\n"
           "kind: io.statefun.kafka.v1/egress\n"
           "spec: {id: k/out, deliverySemantic: {type: none}}\n"
           "---\n"
           "kind: io.statefun.kinesis.v1/egress\n"
           "spec: {id: k/kout, maxOutstandingRecords: 9999}\n"
           "---\n"
           "kind: io.statefun.kafka.v1/egress\n"
           "spec:\n"
           "  id: k/eo\n"
           "  deliverySemantic: {type: exactly-once, transactionTimeoutMillis: 900000}\n");
  cr_assert_eq(cfg.n_ingresses, 2);
  cr_expect_eq(cfg.ingresses[0].kind, SFL_KAFKA);
  cr_assert_eq(cfg.ingresses[0].n_routes, 2);
  cr_assert_eq(cfg.ingresses[0].routes[1].n_targets, 2);
  cr_expect_str_eq(cfg.ingresses[0].routes[1].targets[1], "k/b");
  cr_expect_eq(cfg.ingresses[1].kind, SFL_KINESIS);
  cr_expect_str_eq(cfg.ingresses[1].routes[0].topic, "s");
  cr_assert_eq(cfg.n_egresses, 3);
  cr_expect_eq(cfg.egresses[0].kind, SFL_KAFKA);
  cr_expect(!cfg.egresses[0].exactly_once);
  cr_expect_eq(cfg.egresses[1].kind, SFL_KINESIS);
  cr_expect(cfg.egresses[2].exactly_once);
}

Test(config, more_errors) {
  parse_err("kind: io.statefun.endpoints.v2/http\n"
            "spec:\n"
            "  functions: a/*\n"
            "  urlPathTemplate: http+unix:///tmp/s.sock/fn\n",
            "m.yaml:4:20: urlPathTemplate 'http+unix:///tmp/s.sock/fn': "
            "http+unix:// needs the okhttp transport (type: "
            "io.statefun.transports.v1/okhttp)");
  parse_err("kind: io.statefun.endpoints.v2/http\n"
            "spec:\n"
            "  functions: '*/fn'\n"
            "  urlPathTemplate: http://x\n",
            "m.yaml:3:14: invalid function pattern '*/fn': expected "
            "<namespace>/<name> or <namespace>/*");
  parse_err("kind: io.statefun.endpoints.v2/http\n"
            "spec:\n"
            "  functions: a/*\n"
            "  urlPathTemplate: http://x\n"
            "  transport:\n"
            "    calls: 1m\n",
            "m.yaml:6:5: unknown key 'calls' in an async 'transport'; known "
            "keys: type, call, connect, pool_ttl, pool_size, "
            "payload_max_bytes, trust_cacerts, client_cert, client_key, "
            "client_key_password, timeouts");
  parse_err("kind: io.statefun.endpoints.v2/http\n"
            "spec:\n"
            "  functions: a/*\n"
            "  urlPathTemplate: http://x\n"
            "  transport:\n"
            "    type: io.statefun.transports.v1/okhttp\n"
            "    call: 1m\n",
            "m.yaml:7:5: unknown key 'call' in an okhttp 'transport'; known "
            "keys: type, timeouts");
  parse_err("kind: io.statefun.kafka.v1/ingress\n"
            "spec:\n"
            "  id: a/b\n"
            "  topics: []\n",
            "m.yaml:4:11: 'topics' must list at least one topic");
  parse_err("kind: io.statefun.kafka.v1/egress\n"
            "spec:\n"
            "  id: a/b\n"
            "  deliverySemantic:\n"
            "    type: exactly-once\n",
            "m.yaml:5:5: deliverySemantic exactly-once: missing required key "
            "'transactionTimeout'");
  parse_err("kind: io.statefun.playground.v1/egress\n"
            "spec:\n"
            "  port: 80000\n",
            "m.yaml:3:9: 'port' must be a port number (0-65535), not '80000'");
  parse_err("kind: [io.statefun.endpoints.v2/http]\nspec: {}\n",
            "m.yaml:1:7: 'kind' must be a string, not a sequence");
  parse_err("a: &x 1\n---\nb: *x\n", "m.yaml:3:4: unknown alias '*x'");
  /* Messages stay on one line whatever the input holds. */
  parse_err("kind: \"io.statefun\\nbad\"\nspec: {}\n",
            "m.yaml:1:7: unknown kind 'io.statefun?bad'; known kinds: "
            "io.statefun.endpoints.v2/http, io.statefun.endpoints.v1/http, "
            "io.statefun.kafka.v1/ingress, io.statefun.kafka.v1/egress, "
            "io.statefun.kinesis.v1/ingress, io.statefun.kinesis.v1/egress, "
            "io.statefun.playground.v1/ingress, io.statefun.playground.v1/egress");
}

Test(config, missing_file_and_small_buffer) {
  cr_expect_eq(sfl_config_load(SFL_TEST_DIR "/no-such.yaml", &cfg, err, sizeof err),
               -1);
  cr_expect_str_eq(err, SFL_TEST_DIR "/no-such.yaml:1:1: cannot open: No such "
                                     "file or directory");
  char small[8];
  const char *y = "kind: nope\nspec: {}\n";
  cr_expect_eq(sfl_config_parse("m.yaml", y, strlen(y), &cfg, small, sizeof small),
               -1);
  cr_expect_str_eq(small, "m.yaml:");
  cr_expect_eq(sfl_config_parse("m.yaml", y, strlen(y), &cfg, NULL, 0), -1);
}

/* Bytes YAML does not allow are named, with their line:col. */
Test(config, invalid_utf8_and_controls, .timeout = 10) {
  parse_err("kind: x\n% ur\x8ePath: y\n", "m.yaml:2:5: invalid UTF-8 byte 0x8e");
  parse_err("a: \xc3\n", "m.yaml:1:4: invalid UTF-8 byte 0x0a");
  parse_err("a: \xe0\x80\x80\n", "m.yaml:1:4: invalid UTF-8 sequence");
  parse_err("a: \xed\xa0\x80\n", "m.yaml:1:4: invalid UTF-8 sequence");
  parse_err("a:\n  b: \x01\n",
            "m.yaml:2:6: invalid character 0x01 (YAML allows only printable "
            "characters)");
  /* A lone '\r' breaks a line, as libyaml counts and the tab errors say. */
  parse_err("a: 1\rb: \x01\n",
            "m.yaml:2:4: invalid character 0x01 (YAML allows only printable "
            "characters)");
  parse_err("a: 1\r\nb: \xff\n", "m.yaml:2:4: invalid UTF-8 byte 0xff");
  const char nul[] = "a: 1\n\0";
  cr_expect_eq(sfl_config_parse("m.yaml", nul, sizeof nul - 1, &cfg, err, sizeof err),
               -1);
  cr_expect_str_eq(err, "m.yaml:2:1: invalid character 0x00 (YAML allows only "
                        "printable characters)");
  /* A BOM and non-ASCII text are fine. */
  parse_ok("\xef\xbb\xbf# caf\xc3\xa9 \xf0\x9f\x98\x80\n"
           "kind: io.statefun.endpoints.v2/http\n"
           "spec: {functions: caf\xc3\xa9/*, urlPathTemplate: 'http://x/\xc3\xa9'}\n");
  cr_expect_str_eq(cfg.endpoints[0].functions, "caf\xc3\xa9/*");
}

Test(config, deep_nesting_is_an_error_not_a_crash) {
  char yaml[4096] = "kind: ";
  for (int i = 0; i < 1000; i++) strcat(yaml, "[");
  parse_err(yaml, "m.yaml:1:71: nesting deeper than 64 levels");
}

/* Flink reads module.yaml with SnakeYAML, which takes only spaces between
 * tokens: a tab there fails the job's start. sf-local refuses the same tabs
 * at the same line:col (runtime/src/config_tabs.c; runtime.yaml_parity
 * checks it against Flink's jar). These texts also crashed libfyaml 0.7.12,
 * the parser sf-local used before libyaml (fuzz_config, CI). */
Test(config, tabs_flink_refuses_are_refused, .timeout = 10) {
  const char *why = "a tab where YAML expects a token; Flink's YAML parser "
                    "accepts only spaces here (tabs are fine inside a value "
                    "or a comment)";
  char want[256];
  static const struct {
    const char *yaml;
    int line, col;
  } cases[] = {
      {"kind:\tio.statefun.endpoints.v2/http\n", 1, 6},
      {"spec:\n  functions: [a/*,\tb/*]\n", 2, 19},
      {"spec:\n\tfunctions: a/*\n", 2, 1},
      {"spec: \"q\"\t# c\n", 1, 10},
      {"spec:\t# a tab before a comment\n", 1, 6},
      {"a: b\n  \tc\n", 2, 3}, /* a plain scalar continues over spaces only */
      {"a: b\n\t\n", 2, 1},
      {"---\ta: b\n", 1, 4},
      {"? ;P:\n? Port:\t\t: 80 ", 2, 8}, /* fuzz/README.md's 20 bytes */
      {"? a:\t: x", 1, 5},
      {"? a: \t?x", 1, 6},
      {"? a:\t- x", 1, 5},
      {"? a:\t|", 1, 5},
      {"?\n  a:\t: x", 2, 5},
      {"- ? a:\t: x", 1, 7},
      {"x:\n  ? 'k':\t: x", 2, 9},
      {"? \u00e9:\t: x", 1, 5}, /* the column counts characters */
      {"?\n\r s:\t:", 3, 4},      /* a lone '\r' breaks a line */
      {"?\r- s:\t:", 2, 5},
      {"\n- ? \n- - ?:\t:\r", 3, 7},
      {"? ;PPo\t-Po\t-\t\"ad\t79 rt:\t-\t \t ad", 1, 24},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    snprintf(want, sizeof want, "m.yaml:%d:%d: %s", cases[i].line,
             cases[i].col, why);
    parse_err(cases[i].yaml, want);
  }
  parse_err("spec: |\t\n", "m.yaml:1:8: a block scalar's '|' or '>' (and its "
                           "indicators) must be followed by a space or a "
                           "line break");
  parse_err("spec: >-#c\n", "m.yaml:1:9: a block scalar's '|' or '>' (and its "
                            "indicators) must be followed by a space or a "
                            "line break");
}

/* Tabs Flink accepts: inside scalars (plain, quoted over lines, block),
 * comments, and in the blanks that end a plain scalar's line. */
Test(config, tabs_flink_accepts_are_fine) {
  parse_ok("kind: io.statefun.endpoints.v2/http # a\ttab\n"
           "spec:\n"
           "  functions: com.example/*\t# a tab before a comment\n"
           "  urlPathTemplate: \"http://x/\t: y\"\n");
  cr_expect_str_eq(cfg.endpoints[0].functions, "com.example/*");
  cr_expect_str_eq(cfg.endpoints[0].url_template, "http://x/\t: y");
  sfl_config_free(&cfg);
  /* The whole stream is read before any key is checked: the error is the
   * reader's, on the first unknown key. */
  parse_err("kind: io.statefun.endpoints.v2/http\n"
            "spec:\n"
            "  functions: com.example/*\n"
            "  urlPathTemplate: http://x/\n"
            "  note: 'a\t? b\n"
            "    c:\t: d'\n"
            "  text: |\n"
            "    ? a:\t: x\n"
            "    -\t- y\n"
            "  plain: a\tb\t-1\t\n"
            "  key\twith a tab: w\n",
            "m.yaml:5:3: unknown key 'note' in io.statefun.endpoints.v2/http "
            "spec; known keys: functions, urlPathTemplate, "
            "maxNumBatchRequests, transport");
}

/* ---- bad files ----------------------------------------------------------- */

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

Test(config, bad_modules) {
  DIR *d = opendir(BAD);
  cr_assert_not_null(d);
  char *names[256];
  size_t n = 0;
  struct dirent *de;
  while ((de = readdir(d)) && n < 256) {
    size_t len = strlen(de->d_name);
    if (len > 5 && !strcmp(de->d_name + len - 5, ".yaml"))
      names[n++] = strdup(de->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof *names, by_name);
  cr_expect_geq(n, 18, "only %zu bad files", n);
  for (size_t i = 0; i < n; i++) {
    char path[512], line[1024], expect[1600];
    snprintf(path, sizeof path, "%s/%s", BAD, names[i]);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(line, sizeof line, f));
    fclose(f);
    line[strcspn(line, "\n")] = 0;
    cr_assert(!strncmp(line, "# expect: ", 10), "%s: no '# expect:' line", path);
    snprintf(expect, sizeof expect, "%s:%s", path, line + 10);
    sfl_config c;
    err[0] = 0;
    cr_expect_eq(sfl_config_load(path, &c, err, sizeof err), -1, "%s loaded",
                 names[i]);
    cr_expect_str_eq(err, expect, "%s", names[i]);
    cr_expect_eq(c.n_endpoints + c.n_ingresses + c.n_egresses, 0);
    sfl_config_free(&c);
    free(names[i]);
  }
}

/* ---- the legacy single-document format and Flink's int rules ----------- */

Test(config, legacy_v30) {
  cr_assert_eq(sfl_config_load(GOOD "legacy-v30.yaml", &cfg, err, sizeof err), 0,
               "%s", err);
  cr_assert_eq(cfg.n_endpoints, 1);
  const sfl_endpoint *ep = &cfg.endpoints[0];
  cr_expect_str_eq(ep->functions, "example/*");
  cr_expect_eq(ep->transport, SFL_TRANSPORT_OKHTTP); /* kind http = v1 */
  cr_expect_eq(ep->call_timeout_ms, 120000);
  cr_expect_eq(ep->max_batch, 0); /* maxNumBatchRequests: 0 = no limit */
  cr_assert_eq(cfg.n_ingresses, 1);
  cr_expect_str_eq(cfg.ingresses[0].id, "example/names");
  cr_expect_eq(cfg.ingresses[0].kind, SFL_KAFKA);
  cr_expect_str_eq(cfg.ingresses[0].routes[0].targets[0], "example/person");
  cr_assert_eq(cfg.n_egresses, 2);
  cr_expect_str_eq(cfg.egresses[0].id, "example/greets");
  cr_expect(cfg.egresses[0].exactly_once);
  cr_expect_eq(cfg.egresses[1].kind, SFL_KINESIS);
  cr_expect_str_eq(cfg.egresses[1].id, "example/stream"); /* meta.id wins */
}

Test(config, legacy_other_kinds_and_errors) {
  /* Kinds other than the legacy names are taken as they are. */
  parse_ok("version: \"3.0\"\n"
           "module:\n"
           "  meta: {type: REMOTE}\n"
           "  spec:\n"
           "    endpoints:\n"
           "      - endpoint:\n"
           "          meta: {kind: io.statefun.endpoints.v2/http}\n"
           "          spec: {functions: a/*, urlPathTemplate: 'http://x'}\n"
           "    egresses:\n"
           "      - egress:\n"
           "          meta: {type: io.statefun.playground.v1/egress, id: x/y}\n"
           "          spec: {port: 9, topics: [t]}\n");
  cr_expect_eq(cfg.endpoints[0].transport, SFL_TRANSPORT_ASYNC);
  cr_expect_eq(cfg.egresses[0].kind, SFL_PLAYGROUND);
  cr_expect_str_eq(cfg.egresses[0].id, "io.statefun.playground/egress");
  sfl_config_free(&cfg);
  parse_err("version: \"3.0\"\nmodule:\n  meta: {type: embedded}\n  spec: {}\n",
            "m.yaml:3:16: unknown module type 'embedded', currently supported: remote");
  parse_err("version: \"2.0\"\nmodule:\n  meta: {type: remote}\n  spec: {}\n",
            "m.yaml:1:10: only format versions 3.0 and later are supported, not 2.0");
  parse_err("version: \"3.0\"\nmodule:\n  meta: {type: remote}\n",
            "m.yaml:3:3: module: missing required key 'spec'");
  parse_err("version: \"3.0\"\nmodule:\n  meta: {type: remote}\n  spec:\n"
            "    ingresses:\n      - ingress:\n          meta: {type: io.statefun.kafka/ingress}\n"
            "          spec: {topics: []}\n",
            "m.yaml:7:17: meta: missing required key 'id'");
  /* Two documents: not the legacy format, whatever they hold. */
  parse_err("version: \"3.0\"\n---\nkind: io.statefun.endpoints.v2/http\n"
            "spec: {functions: a/*, urlPathTemplate: 'http://x'}\n",
            "m.yaml:1:10: 'version' in a file of several documents: Flink reads the "
            "legacy single-document format (version: \"3.0\", module: spec: ...) only "
            "when it is the file's one document; here each document needs 'kind' and "
            "'spec'");
}

Test(config, unversioned_kinds_rejected) {
  const char *const kinds_[][2] = {
      {"io.statefun.kafka/egress", "io.statefun.kafka.v1/egress"},
      {"io.statefun.kinesis/ingress", "io.statefun.kinesis.v1/ingress"},
      {"io.statefun.kinesis/egress", "io.statefun.kinesis.v1/egress"},
  };
  for (size_t i = 0; i < 3; i++) {
    char yaml[256], want[512];
    snprintf(yaml, sizeof yaml, "kind: %s\nspec: {id: a/b}\n", kinds_[i][0]);
    snprintf(want, sizeof want,
             "m.yaml:1:7: kind '%s' exists only in the legacy single-document "
             "format (version: \"3.0\"); in a multi-document module.yaml Flink "
             "fails at start-up (\"An extension with type %s does not exist\"): "
             "use '%s'", kinds_[i][0], kinds_[i][0], kinds_[i][1]);
    parse_err(yaml, want);
  }
}

Test(config, max_batch_java_int) {
  const char *const vals[] = {"0", "-1", "-2147483648"};
  for (size_t i = 0; i < 3; i++) {
    char yaml[256];
    snprintf(yaml, sizeof yaml,
             "kind: io.statefun.endpoints.v2/http\nspec: {functions: a/*, "
             "urlPathTemplate: 'http://x', maxNumBatchRequests: %s}\n", vals[i]);
    parse_ok(yaml);
    cr_expect_eq(cfg.endpoints[0].max_batch, 0, "%s means no limit", vals[i]);
    sfl_config_free(&cfg);
  }
  parse_err("kind: io.statefun.endpoints.v2/http\nspec: {functions: a/*, "
            "urlPathTemplate: 'http://x', maxNumBatchRequests: 2147483648}\n",
            "m.yaml:2:74: 'maxNumBatchRequests' must be an integer (a Java int), "
            "not '2147483648'");
}
