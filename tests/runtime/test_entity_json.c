/*
 * test_entity_json.c - the IR-driven JSON <-> record codec
 * (codegen/src/ir_json.h): byte-exact against hand-encoded protobuf wire,
 * exact error messages, and round trips over every method of the
 * shopping-cart and hotel IRs; the text path of a result
 * (sfc_json_write_result) against json_dumps of the tree.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "ir_call.h"
#include "ir_json.h"
#include "sfb/buf.h"

static const char zoo_ir[] =
    "{\"namespace\":\"zoo\",\"records\":[{\"name\":\"P\",\"fields\":["
    "{\"name\":\"x\",\"type\":\"int32\"},{\"name\":\"s\",\"type\":\"string\"}]}],"
    "\"entities\":[{\"name\":\"Z\",\"state\":["
    "{\"name\":\"n\",\"type\":\"int64\"},{\"name\":\"p\",\"type\":\"P\"},"
    "{\"name\":\"l\",\"type\":\"list<int32>\"}],"
    "\"methods\":[{\"name\":\"all\",\"params\":["
    "{\"name\":\"b\",\"type\":\"bool\"},"
    "{\"name\":\"i\",\"type\":\"int32\"},"
    "{\"name\":\"l\",\"type\":\"int64\"},"
    "{\"name\":\"f\",\"type\":\"float\"},"
    "{\"name\":\"d\",\"type\":\"double\"},"
    "{\"name\":\"s\",\"type\":\"string\"},"
    "{\"name\":\"y\",\"type\":\"bytes\"},"
    "{\"name\":\"r\",\"type\":\"ref<Z>\"},"
    "{\"name\":\"li\",\"type\":\"list<int32>\"},"
    "{\"name\":\"ll\",\"type\":\"list<list<int32>>\"},"
    "{\"name\":\"m\",\"type\":\"map<int64>\"},"
    "{\"name\":\"ml\",\"type\":\"map<list<string>>\"},"
    "{\"name\":\"p\",\"type\":\"P\"},"
    "{\"name\":\"lp\",\"type\":\"list<P>\"}],"
    "\"result\":\"map<P>\"},"
    "{\"name\":\"v\",\"result\":\"void\"}]}]}";

static sfc_ir zoo, shop, hotel;
static char err[1024];

static void load_all(void) {
  char e[512];
  cr_assert_eq(sfc_ir_parse("zoo", zoo_ir, strlen(zoo_ir), &zoo, e, sizeof e),
               0, "%s", e);
  cr_assert_eq(sfc_ir_load(SHOP_IR, &shop, e, sizeof e), 0, "%s", e);
  cr_assert_eq(sfc_ir_load(HOTEL_IR, &hotel, e, sizeof e), 0, "%s", e);
}

static void free_all(void) {
  sfc_ir_free(&zoo);
  sfc_ir_free(&shop);
  sfc_ir_free(&hotel);
}

TestSuite(entity_json, .init = load_all, .fini = free_all);

static const sfc_method *method(const sfc_ir *ir, const char *e,
                                const char *m) {
  const sfc_entity *ent = sfc_ir_entity(ir, e);
  cr_assert_not_null(ent, "entity %s", e);
  const sfc_method *me = sfc_entity_method(ent, m);
  cr_assert_not_null(me, "method %s.%s", e, m);
  return me;
}

static json_t *parse(const char *text) {
  json_error_t je;
  json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
  cr_assert_not_null(j, "bad test JSON %s: %s", text, je.text);
  return j;
}

static void hexdump(char *out, size_t n, const uint8_t *p, size_t len) {
  size_t o = 0;
  out[0] = '\0';
  for (size_t i = 0; i < len && o + 4 < n; i++)
    o += (size_t)snprintf(out + o, n - o, "%02x ", p[i]);
}

static void expect_args(const sfc_method *m, const char *json,
                        const uint8_t *want, size_t want_len) {
  json_t *j = parse(json);
  uint8_t *out = NULL;
  size_t len = 0;
  int rc = sfc_json_encode_args(m, j, &out, &len, err, sizeof err);
  cr_assert_eq(rc, 0, "%s: %s", json, err);
  char got[1024], exp[1024];
  hexdump(got, sizeof got, out, len);
  hexdump(exp, sizeof exp, want, want_len);
  /* want_len, not len, decides the memcmp: callers pass want = NULL for
   * no bytes, and a compiler that inlines this sees that constant. */
  cr_assert(len == want_len &&
                (want_len == 0 || memcmp(out, want, want_len) == 0),
            "%s:\n got  %s\n want %s", json, got, exp);
  /* and back */
  json_t *back = sfc_json_decode_args(m, out, len, err, sizeof err);
  cr_assert_not_null(back, "%s", err);
  char *bs = json_dumps(back, JSON_COMPACT | JSON_SORT_KEYS);
  char *js = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
  cr_assert(json_equal(back, j), "round trip:\n got  %s\n want %s", bs, js);
  free(bs);
  free(js);
  json_decref(back);
  json_decref(j);
  free(out);
}

static void expect_error(const sfc_method *m, const char *json,
                         const char *want) {
  json_t *j = json ? parse(json) : NULL;
  uint8_t *out = (uint8_t *)1;
  size_t len = 7;
  int rc = sfc_json_encode_args(m, j, &out, &len, err, sizeof err);
  cr_assert_eq(rc, -1, "%s: accepted", json);
  cr_assert_null(out);
  cr_assert_eq(len, 0);
  cr_assert_str_eq(err, want, "%s", json);
  json_decref(j);
}

Test(entity_json, add_to_basket_bytes) {
  static const uint8_t want[] = {0x0A, 5, 'a', 'p', 'p', 'l', 'e',
                                 0x0A, 4, 'p', 'e', 'a', 'r'};
  expect_args(method(&shop, "User", "add_to_basket"),
              "{\"items\":[\"apple\",\"pear\"]}", want, sizeof want);
  expect_args(method(&shop, "User", "add_to_basket"), "{\"items\":[]}",
              NULL, 0);
}

Test(entity_json, no_params) {
  const sfc_method *m = method(&shop, "User", "get_balance");
  uint8_t *out = (uint8_t *)1;
  size_t len = 9;
  cr_assert_eq(sfc_json_encode_args(m, NULL, &out, &len, err, sizeof err), 0);
  cr_assert_eq(len, 0);
  free(out);
  expect_args(m, "{}", NULL, 0);
  expect_error(m, "{\"x\":1}",
               "unknown argument \"x\": method get_balance has none");
}

Test(entity_json, every_type_bytes) {
  static const uint8_t want[] = {
      0x08, 0x01,                                     /* b true */
      0x10, 0x01,                                     /* i -1 */
      0x18, 0xD8, 0x04,                               /* l 300 */
      0x25, 0x00, 0x00, 0xC0, 0x3F,                   /* f 1.5 */
      0x29, 0, 0, 0, 0, 0, 0, 0, 0xC0,                /* d -2 */
      0x32, 3, 'h', 0xC3, 0xA9,                       /* s "hé" */
      0x3A, 2, 0x00, 0x01,                            /* y AAE= */
      0x42, 1, 'k',                                   /* r "k" */
      0x48, 0x00, 0x48, 0x04,                         /* li [0,2] */
      0x52, 2, 0x08, 0x02, 0x52, 0,                   /* ll [[1],[]] */
      0x5A, 5, 0x0A, 1, 'a', 0x10, 0x00,              /* m {"a":0} */
      0x62, 8, 0x0A, 1, 'k', 0x12, 3, 0x0A, 1, 'x',   /* ml {"k":["x"]} */
      0x6A, 3, 0x12, 1, 'q',                          /* p {x:0,s:"q"} */
      0x72, 2, 0x08, 0x02,                            /* lp [{x:1,s:""}] */
  };
  expect_args(method(&zoo, "Z", "all"),
              "{\"b\":true,\"i\":-1,\"l\":300,\"f\":1.5,\"d\":-2.0,"
              "\"s\":\"h\\u00e9\",\"y\":\"AAE=\",\"r\":\"k\",\"li\":[0,2],"
              "\"ll\":[[1],[]],\"m\":{\"a\":0},\"ml\":{\"k\":[\"x\"]},"
              "\"p\":{\"x\":0,\"s\":\"q\"},\"lp\":[{\"x\":1,\"s\":\"\"}]}",
              want, sizeof want);
}

Test(entity_json, zero_values_are_not_written) {
  expect_args(method(&zoo, "Z", "all"),
              "{\"b\":false,\"i\":0,\"l\":0,\"f\":0.0,\"d\":0.0,"
              "\"s\":\"\",\"y\":\"\",\"r\":\"\",\"li\":[],"
              "\"ll\":[],\"m\":{},\"ml\":{},"
              "\"p\":{\"x\":0,\"s\":\"\"},\"lp\":[]}",
              (const uint8_t[]){0x6A, 0}, 2);
}

Test(entity_json, result_map_of_records) {
  const sfc_method *m = method(&zoo, "Z", "all");
  static const uint8_t want[] = {0x0A, 10,   0x0A, 1,    'a', 0x12, 5,
                                 0x08, 0x02, 0x12, 1,    'z'};
  json_t *v = parse("{\"a\":{\"x\":1,\"s\":\"z\"}}");
  uint8_t *out = NULL;
  size_t len = 0;
  cr_assert_eq(sfc_json_encode_wrapped(m->result, v, "result", &out, &len,
                                       err, sizeof err),
               0, "%s", err);
  cr_assert_eq(len, sizeof want);
  cr_assert_arr_eq(out, want, sizeof want);
  json_t *back = sfc_json_decode_result(m, out, len, err, sizeof err);
  cr_assert(json_equal(back, v));
  json_decref(back);
  json_decref(v);
  free(out);
}

Test(entity_json, results) {
  /* int64 result: {1: 42} = 08 54; absent = 0 */
  const sfc_method *m = method(&shop, "User", "add_to_basket");
  json_t *r = sfc_json_decode_result(m, (const uint8_t[]){0x08, 0x54}, 2, err,
                                     sizeof err);
  cr_assert(json_is_integer(r) && json_integer_value(r) == 42);
  json_decref(r);
  r = sfc_json_decode_result(m, NULL, 0, err, sizeof err);
  cr_assert(json_is_integer(r) && json_integer_value(r) == 0);
  json_decref(r);
  /* void: null whatever the bytes */
  r = sfc_json_decode_result(method(&zoo, "Z", "v"), NULL, 0, err,
                             sizeof err);
  cr_assert(json_is_null(r));
  json_decref(r);
  /* a record result, absent: every field zero */
  r = sfc_json_decode_result(method(&shop, "User", "checkout"), NULL, 0, err,
                             sizeof err);
  char *s = json_dumps(r, JSON_COMPACT);
  cr_assert_str_eq(s, "{\"lines\":[],\"total\":0,\"balance\":0}");
  free(s);
  json_decref(r);
  /* bool result true */
  r = sfc_json_decode_result(method(&shop, "Item", "reserve"),
                             (const uint8_t[]){0x08, 0x01}, 2, err,
                             sizeof err);
  cr_assert(json_is_true(r));
  json_decref(r);
}

Test(entity_json, decode_packed_unknown_and_bad) {
  const sfc_method *m = method(&zoo, "Z", "all");
  /* li packed [0, 2, -1], an unknown varint field 99 and an unknown LEN */
  static const uint8_t in[] = {0x4A, 3, 0x00, 0x04, 0x01, 0x98, 0x06, 0x05,
                               0xA2, 0x06, 2, 'x', 'y'};
  json_t *a = sfc_json_decode_args(m, in, sizeof in, err, sizeof err);
  cr_assert_not_null(a, "%s", err);
  json_t *li = json_object_get(a, "li");
  cr_assert_eq(json_array_size(li), 3);
  cr_assert_eq(json_integer_value(json_array_get(li, 2)), -1);
  json_decref(a);
  /* truncated string */
  const sfc_method *ab = method(&shop, "User", "add_to_basket");
  cr_assert_null(sfc_json_decode_args(ab, (const uint8_t[]){0x0A, 5, 'a'}, 3,
                                      err, sizeof err));
  cr_assert_str_eq(err, "items[0]: truncated length-delimited field");
  /* wrong wire type */
  cr_assert_null(sfc_json_decode_args(ab, (const uint8_t[]){0x08, 1}, 2, err,
                                      sizeof err));
  cr_assert_str_eq(err, "items[0]: wire type varint where length-delimited "
                        "(ref<Item>) was expected");
  /* invalid UTF-8 */
  cr_assert_null(sfc_json_decode_args(ab, (const uint8_t[]){0x0A, 1, 0xFF}, 3,
                                      err, sizeof err));
  cr_assert_str_eq(err, "items[0]: the key is not valid UTF-8");
  /* a bad tag */
  cr_assert_null(sfc_json_decode_args(ab, (const uint8_t[]){0x80}, 1, err,
                                      sizeof err));
  cr_assert_str_eq(err, "malformed field tag");
}

Test(entity_json, errors) {
  const sfc_method *ab = method(&shop, "User", "add_to_basket");
  expect_error(ab, "{\"items\":[\"a\",\"b\",3]}",
               "argument 'items'[2]: expected a string (ref<Item> key), got 3");
  expect_error(ab, "{}", "missing argument 'items' (list<ref<Item>>)");
  expect_error(ab, "{\"items\":[],\"itemz\":1}",
               "unknown argument \"itemz\" (method add_to_basket has items)");
  expect_error(ab, "[1]",
               "the arguments must be a JSON object of the parameters "
               "({\"items\": ...}), got an array");
  expect_error(ab, "{\"items\":\"apple\"}",
               "argument 'items': expected an array (list<ref<Item>>), got "
               "\"apple\"");
  expect_error(method(&shop, "Item", "add_stock"), "{\"qty\":3000000000}",
               "argument 'qty': 3000000000 is out of range for int32 "
               "(-2147483648 to 2147483647)");
  expect_error(method(&shop, "Item", "add_stock"), "{\"qty\":1.5}",
               "argument 'qty': expected an integer (int32), got 1.5");
  expect_error(method(&shop, "Item", "add_stock"), "{\"qty\":null}",
               "argument 'qty': expected an integer (int32), got null");
  const sfc_method *z = method(&zoo, "Z", "all");
  static const char base[] =
      "{\"b\":true,\"i\":1,\"l\":1,\"f\":1,\"d\":1,\"s\":\"\",\"y\":\"\","
      "\"r\":\"\",\"li\":[],\"ll\":[],\"m\":{},\"ml\":{},"
      "\"p\":{\"x\":0,\"s\":\"\"},\"lp\":[]";
  char buf[1024];
#define WITH(extra) (snprintf(buf, sizeof buf, "%s%s}", base, extra), buf)
  expect_error(z, WITH(",\"lp\":[{\"x\":\"1\",\"s\":\"\"}]"),
               "argument 'lp'[0].x: expected an integer (int32), got \"1\"");
  expect_error(z, WITH(",\"p\":{\"x\":1}"),
               "argument 'p': missing field 's' (string)");
  expect_error(z, WITH(",\"p\":{\"x\":1,\"s\":\"\",\"t\":2}"),
               "argument 'p': unknown field \"t\" (record P has x, s)");
  expect_error(z, WITH(",\"y\":\"A\""),
               "argument 'y': bad base64 (bytes): truncated (a length of "
               "4k+1 characters is impossible) at character 1");
  expect_error(z, WITH(",\"y\":\"AA*=\""),
               "argument 'y': bad base64 (bytes): a character outside the "
               "base64 alphabet at character 2");
  expect_error(z, WITH(",\"y\":\"AB==\""),
               "argument 'y': bad base64 (bytes): non-zero trailing bits at "
               "character 1");
  expect_error(z, WITH(",\"b\":1"),
               "argument 'b': expected true or false (bool), got 1");
  expect_error(z, WITH(",\"l\":\"12x\""),
               "argument 'l': expected an integer (int64) or a decimal "
               "string, got \"12x\"");
  expect_error(z, WITH(",\"l\":\"99999999999999999999\""),
               "argument 'l': \"99999999999999999999\" is out of range for "
               "int64");
  expect_error(z, WITH(",\"f\":1e39"),
               "argument 'f': 1e+39 is out of range for float");
  expect_error(z, WITH(",\"d\":\"1\""),
               "argument 'd': expected a number (double), got \"1\"");
  expect_error(z, WITH(",\"m\":{\"k\":\"v\"}"),
               "argument 'm'[\"k\"]: expected an integer (int64) or a decimal "
               "string, got \"v\"");
  expect_error(z, WITH(",\"ll\":[[1],[2,true]]"),
               "argument 'll'[1][1]: expected an integer (int32), got true");
  expect_error(z, WITH(",\"ml\":[]"),
               "argument 'ml': expected an object (map<list<string>>), got "
               "an array");
  expect_error(z, WITH(",\"p\":[]"),
               "argument 'p': expected an object (record P), got an array");
#undef WITH
}

Test(entity_json, int64_strings_and_specials) {
  const sfc_method *z = method(&zoo, "Z", "all");
  json_t *j = parse(
      "{\"b\":false,\"i\":0,\"l\":\"-9223372036854775808\",\"f\":\"NaN\","
      "\"d\":\"-Infinity\",\"s\":\"\",\"y\":\"AAE\",\"r\":\"\",\"li\":[],"
      "\"ll\":[],\"m\":{},\"ml\":{},\"p\":{\"x\":0,\"s\":\"\"},\"lp\":[]}");
  uint8_t *out = NULL;
  size_t len = 0;
  cr_assert_eq(sfc_json_encode_args(z, j, &out, &len, err, sizeof err), 0,
               "%s", err);
  json_t *back = sfc_json_decode_args(z, out, len, err, sizeof err);
  cr_assert_not_null(back, "%s", err);
  cr_assert_eq(json_integer_value(json_object_get(back, "l")), INT64_MIN);
  cr_assert_str_eq(json_string_value(json_object_get(back, "f")), "NaN");
  cr_assert_str_eq(json_string_value(json_object_get(back, "d")), "-Infinity");
  cr_assert_str_eq(json_string_value(json_object_get(back, "y")), "AAE=");
  json_decref(back);
  json_decref(j);
  free(out);
}

Test(entity_json, float_shortest) {
  const sfc_entity *e = sfc_ir_entity(&zoo, "Z");
  const sfc_method *m = method(&zoo, "Z", "all");
  (void)e;
  json_t *j = parse(
      "{\"b\":false,\"i\":0,\"l\":0,\"f\":0.1,\"d\":0.1,\"s\":\"\",\"y\":\"\","
      "\"r\":\"\",\"li\":[],\"ll\":[],\"m\":{},\"ml\":{},"
      "\"p\":{\"x\":0,\"s\":\"\"},\"lp\":[]}");
  uint8_t *out = NULL;
  size_t len = 0;
  cr_assert_eq(sfc_json_encode_args(m, j, &out, &len, err, sizeof err), 0);
  json_t *back = sfc_json_decode_args(m, out, len, err, sizeof err);
  cr_assert(json_real_value(json_object_get(back, "f")) == 0.1);
  cr_assert(json_real_value(json_object_get(back, "d")) == 0.1);
  json_decref(back);
  json_decref(j);
  free(out);
}

/* Bytes -> JSON -> bytes for Z.all: the encoder writes every parameter
 * in order (the empty record p too), so the bytes come back as `want`. */
static void expect_bytes_round_trip(const uint8_t *in, size_t in_len,
                                    const uint8_t *want, size_t want_len) {
  const sfc_method *m = method(&zoo, "Z", "all");
  json_t *j = sfc_json_decode_args(m, in, in_len, err, sizeof err);
  cr_assert_not_null(j, "%s", err);
  uint8_t *out = NULL;
  size_t len = 0;
  cr_assert_eq(sfc_json_encode_args(m, j, &out, &len, err, sizeof err), 0,
               "%s", err);
  char got[1024], exp[1024];
  hexdump(got, sizeof got, out, len);
  hexdump(exp, sizeof exp, want, want_len);
  cr_assert(len == want_len && memcmp(out, want, want_len) == 0,
            "\n got  %s\n want %s", got, exp);
  json_decref(j);
  free(out);
}

/* fuzz_ir_json found it: the encoder wrote a map key up to its first NUL
 * (strlen), so "a\0b" became "a" (and merged with a key "a"). A protobuf
 * string may hold a NUL; the decoder keeps it, so must the encoder. */
Test(entity_json, map_key_with_nul) {
  static const uint8_t in[] = {
      0x5A, 7, 0x0A, 3, 'a', 0, 'b', 0x10, 2, /* m["a\0b"] = 1 */
      0x5A, 5, 0x0A, 1, 'a', 0x10, 4,         /* m["a"] = 2 */
      0x62, 5, 0x0A, 3, 0, 'k', 0};           /* ml["\0k\0"] = [] */
  static const uint8_t want[] = {
      0x5A, 7, 0x0A, 3, 'a', 0, 'b', 0x10, 2,
      0x5A, 5, 0x0A, 1, 'a', 0x10, 4,
      0x62, 7, 0x0A, 3, 0, 'k', 0, 0x12, 0, /* the value [] as {1: []} */
      0x6A, 0};                             /* p = {} */
  expect_bytes_round_trip(in, sizeof in, want, sizeof want);
  /* and a key "a\0b" in JSON is not the parameter "a"'s neighbour "l" */
  const sfc_method *m = method(&zoo, "Z", "all");
  json_t *j = sfc_json_decode_args(m, in, sizeof in, err, sizeof err);
  cr_assert_not_null(j, "%s", err);
  json_object_setn_new(j, "l\0x", 3, json_integer(1));
  uint8_t *out = NULL;
  size_t len = 0;
  cr_assert_eq(sfc_json_encode_args(m, j, &out, &len, err, sizeof err), -1);
  cr_assert(strstr(err, "unknown argument \"l?x\"") != NULL, "%s", err);
  json_decref(j);
}

/* fuzz_ir_json found it: -FLT_MAX decoded to its shortest digits
 * (-3.4028235e38), a double just outside the float range, which the
 * encoder refused. Within rounding of FLT_MAX is FLT_MAX. */
Test(entity_json, float_max_round_trip) {
  static const uint8_t in[] = {0x25, 0xFF, 0xFF, 0x7F, 0xFF}; /* f = -FLT_MAX */
  static const uint8_t want[] = {0x25, 0xFF, 0xFF, 0x7F, 0xFF, 0x6A, 0};
  expect_bytes_round_trip(in, sizeof in, want, sizeof want);
  static const uint8_t max[] = {0x25, 0xFF, 0xFF, 0x7F, 0x7F, 0x6A, 0};
  expect_args(method(&zoo, "Z", "all"),
              "{\"b\":false,\"i\":0,\"l\":0,\"f\":3.4028235e38,\"d\":0.0,"
              "\"s\":\"\",\"y\":\"\",\"r\":\"\",\"li\":[],\"ll\":[],\"m\":{},"
              "\"ml\":{},\"p\":{\"x\":0,\"s\":\"\"},\"lp\":[]}",
              max, sizeof max);
}

Test(entity_json, state_fields) {
  const sfc_entity *e = sfc_ir_entity(&zoo, "Z");
  json_t *p = sfc_json_decode_state(e->state[1].type,
                                    (const uint8_t[]){0x08, 0x02, 0x12, 1, 'q'},
                                    5, err, sizeof err);
  char *s = json_dumps(p, JSON_COMPACT);
  cr_assert_str_eq(s, "{\"x\":1,\"s\":\"q\"}");
  free(s);
  json_decref(p);
  json_t *l = sfc_json_decode_state(e->state[2].type,
                                    (const uint8_t[]){0x08, 0x02, 0x08, 0x04},
                                    4, err, sizeof err);
  s = json_dumps(l, JSON_COMPACT);
  cr_assert_str_eq(s, "[1,2]");
  free(s);
  json_decref(l);
}

/* ---- round trips over the example IRs ---------------------------------- */

static json_t *sample(const sfc_type *t, int seed) {
  char buf[64];
  switch (t->kind) {
    case SFC_BOOL: return json_boolean(seed % 2);
    case SFC_INT32: return json_integer(seed % 2 ? -seed * 1000 : seed);
    case SFC_INT64: return json_integer(seed % 2 ? (json_int_t)seed << 40 : -seed);
    case SFC_FLOAT: return json_real(seed + 0.5);
    case SFC_DOUBLE: return json_real(-seed - 0.25);
    case SFC_STRING:
      snprintf(buf, sizeof buf, "s%d \xc3\xa9", seed);
      return json_string(buf);
    case SFC_BYTES: return json_string(seed % 2 ? "YWI=" : "AP8A");
    case SFC_REF:
      snprintf(buf, sizeof buf, "key-%d", seed);
      return json_string(buf);
    case SFC_LIST: {
      json_t *a = json_array();
      for (int i = 0; i < 1 + seed % 3; i++)
        json_array_append_new(a, sample(t->elem, seed + i + 1));
      return a;
    }
    case SFC_MAP: {
      json_t *o = json_object();
      for (int i = 0; i < 1 + seed % 3; i++) {
        snprintf(buf, sizeof buf, "k%d", i);
        json_object_set_new(o, buf, sample(t->elem, seed + i + 1));
      }
      return o;
    }
    case SFC_RECORD: {
      json_t *o = json_object();
      for (size_t i = 0; i < t->record->n_fields; i++)
        json_object_set_new(o, t->record->fields[i].name,
                            sample(t->record->fields[i].type, seed + (int)i));
      return o;
    }
    case SFC_VOID: return json_null();
  }
  return NULL;
}

static void round_trip_ir(const sfc_ir *ir) {
  size_t n = 0;
  for (size_t e = 0; e < ir->n_entities; e++) {
    const sfc_entity *ent = &ir->entities[e];
    for (size_t k = 0; k < ent->n_methods; k++) {
      const sfc_method *m = &ent->methods[k];
      for (int seed = 1; seed <= 4; seed++) {
        json_t *args = json_object();
        for (size_t i = 0; i < m->n_params; i++)
          json_object_set_new(args, m->params[i].name,
                              sample(m->params[i].type, seed + (int)i));
        uint8_t *out = NULL;
        size_t len = 0;
        cr_assert_eq(sfc_json_encode_args(m, args, &out, &len, err, sizeof err),
                     0, "%s.%s: %s", ent->name, m->name, err);
        json_t *back = sfc_json_decode_args(m, out, len, err, sizeof err);
        cr_assert_not_null(back, "%s.%s: %s", ent->name, m->name, err);
        cr_assert(json_equal(back, args), "%s.%s args", ent->name, m->name);
        json_decref(back);
        free(out);
        json_decref(args);

        json_t *res = sample(m->result, seed);
        cr_assert_eq(sfc_json_encode_wrapped(m->result, res, "result", &out,
                                             &len, err, sizeof err),
                     0, "%s.%s: %s", ent->name, m->name, err);
        back = sfc_json_decode_result(m, out, len, err, sizeof err);
        cr_assert_not_null(back, "%s.%s result: %s", ent->name, m->name, err);
        cr_assert(json_equal(back, res), "%s.%s result", ent->name, m->name);
        json_decref(back);
        json_decref(res);
        free(out);
        n++;
      }
    }
    for (size_t k = 0; k < ent->n_state; k++) {
      const sfc_type *t = ent->state[k].type;
      json_t *v = sample(t, 3);
      uint8_t *out = NULL;
      size_t len = 0;
      int rc = t->kind == SFC_RECORD
                   ? sfc_json_encode_record(t->record, v, "state", &out, &len,
                                            err, sizeof err)
                   : sfc_json_encode_wrapped(t, v, "state", &out, &len, err,
                                             sizeof err);
      cr_assert_eq(rc, 0, "%s", err);
      json_t *back = sfc_json_decode_state(t, out, len, err, sizeof err);
      cr_assert_not_null(back, "%s", err);
      cr_assert(json_equal(back, v), "%s.%s state", ent->name,
                ent->state[k].name);
      json_decref(back);
      json_decref(v);
      free(out);
    }
  }
  cr_assert_gt(n, 0);
}

Test(entity_json, round_trip_shop) { round_trip_ir(&shop); }
Test(entity_json, round_trip_hotel) { round_trip_ir(&hotel); }
Test(entity_json, round_trip_zoo) { round_trip_ir(&zoo); }

Test(entity_json, records_of_hotel) {
  const sfc_record *r = sfc_ir_record(&hotel, "HotelProfile");
  cr_assert_not_null(r);
  const sfc_type t = {.kind = SFC_RECORD, .record = (sfc_record *)r,
                      .text = (char *)"HotelProfile"};
  json_t *v = sample(&t, 2);
  uint8_t *out = NULL;
  size_t len = 0;
  cr_assert_eq(sfc_json_encode_record(r, v, "profile", &out, &len, err,
                                      sizeof err),
               0, "%s", err);
  json_t *back = sfc_json_decode_record(r, out, len, err, sizeof err);
  cr_assert(json_equal(back, v));
  /* every truncation fails cleanly or decodes a prefix; never crashes */
  for (size_t cut = 0; cut < len; cut++) {
    json_t *b2 = sfc_json_decode_record(r, out, cut, err, sizeof err);
    json_decref(b2);
  }
  json_decref(back);
  json_decref(v);
  free(out);
}

/* ---- the text path (sfc_json_write_result) ----------------------------- */

/* Every kind but map in one record, and results of each shape. */
static const char text_ir[] =
    "{\"namespace\":\"tx\",\"records\":[{\"name\":\"R\",\"fields\":["
    "{\"name\":\"b\",\"type\":\"bool\"},{\"name\":\"i\",\"type\":\"int32\"},"
    "{\"name\":\"l\",\"type\":\"int64\"},{\"name\":\"f\",\"type\":\"float\"},"
    "{\"name\":\"d\",\"type\":\"double\"},{\"name\":\"s\",\"type\":\"string\"},"
    "{\"name\":\"y\",\"type\":\"bytes\"},{\"name\":\"r\",\"type\":\"ref<T>\"},"
    "{\"name\":\"li\",\"type\":\"list<int32>\"},"
    "{\"name\":\"ls\",\"type\":\"list<string>\"},"
    "{\"name\":\"ll\",\"type\":\"list<list<double>>\"},"
    "{\"name\":\"n\",\"type\":\"N\"}]},"
    "{\"name\":\"N\",\"fields\":[{\"name\":\"x\",\"type\":\"double\"},"
    "{\"name\":\"q\",\"type\":\"list<N2>\"}]},"
    "{\"name\":\"N2\",\"fields\":[{\"name\":\"z\",\"type\":\"string\"}]}],"
    "\"entities\":[{\"name\":\"T\",\"methods\":["
    "{\"name\":\"rec\",\"result\":\"R\"},"
    "{\"name\":\"recs\",\"result\":\"list<R>\"},"
    "{\"name\":\"d\",\"result\":\"double\"},"
    "{\"name\":\"f\",\"result\":\"float\"},"
    "{\"name\":\"s\",\"result\":\"string\"},"
    "{\"name\":\"i\",\"result\":\"int64\"},"
    "{\"name\":\"m\",\"result\":\"map<int32>\"},"
    "{\"name\":\"v\",\"result\":\"void\"}]}]}";

/* The text path's answer for (m, p, n): -1 when it declined, else 0 and
 * the text equals json_dumps of the tree's value (which must decode). */
static int text_vs_tree(const sfc_method *m, const uint8_t *p, size_t n) {
  sfb_buf b = {0};
  sfb_buf_put(&b, "<", 1); /* the writer appends */
  int rc = sfc_json_write_result(m, p, n, &b);
  json_t *tree = sfc_json_decode_result(m, p, n, err, sizeof err);
  if (rc != 0) {
    cr_assert_eq(b.len, 1, "%s: a declined write left text behind", m->name);
  } else {
    cr_assert_not_null(tree, "%s: text written where the tree fails: %s",
                       m->name, err);
    char *want = json_dumps(tree, JSON_COMPACT | JSON_ENCODE_ANY);
    cr_assert_eq(b.len, strlen(want) + 1, "%s: %.*s vs %s", m->name,
                 (int)b.len, (const char *)b.p, want);
    cr_assert(memcmp(b.p + 1, want, b.len - 1) == 0, "%s: %.*s vs %s",
              m->name, (int)b.len - 1, (const char *)b.p + 1, want);
    free(want);
  }
  json_decref(tree);
  sfb_buf_free(&b);
  return rc;
}

/* Encodes v as m's result and compares the two paths; returns the text
 * path's rc. */
static int text_of(const sfc_method *m, json_t *v) {
  uint8_t *out = NULL;
  size_t len = 0;
  cr_assert_eq(sfc_json_encode_wrapped(m->result, v, "result", &out, &len, err,
                                       sizeof err),
               0, "%s", err);
  int rc = text_vs_tree(m, out, len);
  free(out);
  json_decref(v);
  return rc;
}

static bool has_map(const sfc_type *t) {
  if (t == NULL) return false;
  if (t->kind == SFC_MAP) return true;
  if (t->kind == SFC_LIST) return has_map(t->elem);
  if (t->kind == SFC_RECORD)
    for (size_t i = 0; i < t->record->n_fields; i++)
      if (has_map(t->record->fields[i].type)) return true;
  return false;
}

/* What the generated encoders write, the text path writes, as the tree. */
static void text_ir_results(const sfc_ir *ir) {
  for (size_t e = 0; e < ir->n_entities; e++)
    for (size_t k = 0; k < ir->entities[e].n_methods; k++) {
      const sfc_method *m = &ir->entities[e].methods[k];
      for (int seed = 1; seed <= 4; seed++) {
        int rc = text_of(m, sample(m->result, seed));
        cr_assert_eq(rc, has_map(m->result) ? -1 : 0, "%s seed %d", m->name,
                     seed);
      }
      /* nothing at all: the zero value (an empty map too) */
      cr_assert_eq(text_vs_tree(m, NULL, 0), 0, "%s", m->name);
    }
}

Test(entity_json, text_same_as_tree_for_encoder_output) {
  sfc_ir tx;
  char e[512];
  cr_assert_eq(sfc_ir_parse("tx", text_ir, strlen(text_ir), &tx, e, sizeof e),
               0, "%s", e);
  text_ir_results(&tx);
  text_ir_results(&hotel);
  text_ir_results(&shop);
  text_ir_results(&zoo);
  sfc_ir_free(&tx);
}

Test(entity_json, text_numbers_and_strings) {
  sfc_ir tx;
  char e[512];
  cr_assert_eq(sfc_ir_parse("tx", text_ir, strlen(text_ir), &tx, e, sizeof e),
               0, "%s", e);
  const sfc_method *d = method(&tx, "T", "d"), *f = method(&tx, "T", "f");
  const sfc_method *s = method(&tx, "T", "s"), *i = method(&tx, "T", "i");
  static const double ds[] = {0.1, 1e300, 1e-7, 5.0, -0.0, 1e21, 1e22,
                              123456789012345678.0, -2.5e-300, 4.9e-324,
                              1.7976931348623157e308, 38.0235, -122.095};
  for (size_t k = 0; k < sizeof ds / sizeof ds[0]; k++)
    cr_assert_eq(text_of(d, json_real(ds[k])), 0, "%.17g", ds[k]);
  static const char *const special[] = {"NaN", "Infinity", "-Infinity"};
  for (size_t k = 0; k < 3; k++) {
    cr_assert_eq(text_of(d, json_string(special[k])), 0);
    cr_assert_eq(text_of(f, json_string(special[k])), 0);
  }
  static const double fs[] = {0.1, 3.4e38, 1e-7, 16777217.0, 1.5, -0.0, 1e-45};
  for (size_t k = 0; k < sizeof fs / sizeof fs[0]; k++)
    cr_assert_eq(text_of(f, json_real(fs[k])), 0, "%g", fs[k]);
  static const char *const ss[] = {
      "", "plain", "q\"uote", "back\\slash", "ctl\x01\x1f\n\r\t\b\f",
      "del\x7f", "sl/ash", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"};
  for (size_t k = 0; k < sizeof ss / sizeof ss[0]; k++)
    cr_assert_eq(text_of(s, json_string(ss[k])), 0, "%s", ss[k]);
  static const json_int_t is[] = {0, -1, INT64_MAX, INT64_MIN, 1 << 30};
  for (size_t k = 0; k < sizeof is / sizeof is[0]; k++)
    cr_assert_eq(text_of(i, json_integer(is[k])), 0);
  sfc_ir_free(&tx);
}

/* Input the encoders never write: declined (the tree merges, replaces or
 * refuses), or, for unknown fields, skipped as the tree skips them. */
Test(entity_json, text_declines_what_the_encoders_never_write) {
  sfc_ir tx;
  char e[512];
  cr_assert_eq(sfc_ir_parse("tx", text_ir, strlen(text_ir), &tx, e, sizeof e),
               0, "%s", e);
  const sfc_method *rec = method(&tx, "T", "rec");
  /* {1: R{i: 1, b: true}}: fields out of order (the tree reads both) */
  static const uint8_t order[] = {0x0A, 4, 0x10, 0x02, 0x08, 0x01};
  cr_assert_eq(text_vs_tree(rec, order, sizeof order), -1);
  /* R{i: 1, i: 2}: a singular field twice (the tree keeps the last) */
  static const uint8_t twice[] = {0x0A, 4, 0x10, 0x02, 0x10, 0x04};
  cr_assert_eq(text_vs_tree(rec, twice, sizeof twice), -1);
  /* R{li: packed [1, 2]} */
  static const uint8_t packed[] = {0x0A, 4, 0x4A, 2, 0x02, 0x04};
  cr_assert_eq(text_vs_tree(rec, packed, sizeof packed), -1);
  /* R{li: 1, i: 2, li: 3}: a list's items apart */
  static const uint8_t apart[] = {0x0A, 6, 0x48, 0x02, 0x10, 0x04, 0x48, 0x06};
  cr_assert_eq(text_vs_tree(rec, apart, sizeof apart), -1);
  /* truncated, and a string that is not UTF-8 or holds a NUL */
  static const uint8_t cut[] = {0x0A, 5, 0x10, 0x02};
  cr_assert_eq(text_vs_tree(rec, cut, sizeof cut), -1);
  static const uint8_t bad[] = {0x0A, 3, 0x32, 1, 0xC3};
  cr_assert_eq(text_vs_tree(rec, bad, sizeof bad), -1);
  static const uint8_t nul[] = {0x0A, 4, 0x32, 2, 'a', 0};
  cr_assert_eq(text_vs_tree(rec, nul, sizeof nul), -1);
  /* the wrapper's field twice */
  static const uint8_t two[] = {0x0A, 0, 0x0A, 0};
  cr_assert_eq(text_vs_tree(rec, two, sizeof two), -1);
  /* R{i: 1, <field 99 varint>, li: [5, 6]}: the unknown field skipped */
  static const uint8_t unknown[] = {0x0A, 9,    0x10, 0x02, 0x98, 0x06,
                                    0x07, 0x48, 0x0A, 0x48, 0x0C};
  cr_assert_eq(text_vs_tree(rec, unknown, sizeof unknown), 0);
  /* a map result */
  static const uint8_t map[] = {0x0A, 5, 0x0A, 1, 'k', 0x10, 0x02};
  cr_assert_eq(text_vs_tree(method(&tx, "T", "m"), map, sizeof map), -1);
  sfc_ir_free(&tx);
}

Test(entity_json, call_answer_text_is_the_answer_dumped) {
  const sfc_method *m = method(&hotel, "Frontend", "search");
  for (int seed = 1; seed <= 3; seed++) {
    json_t *v = sample(m->result, seed);
    uint8_t *out = NULL;
    size_t len = 0;
    cr_assert_eq(sfc_json_encode_wrapped(m->result, v, "result", &out, &len,
                                         err, sizeof err),
                 0, "%s", err);
    unsigned status = 0;
    json_t *o = sfc_call_answer(m, "rid-\"1", true, "", out, len, &status);
    cr_assert_eq(status, 200);
    char *want = json_dumps(o, JSON_COMPACT);
    sfb_buf b = {0};
    cr_assert_eq(sfc_call_answer_write(m, "rid-\"1", out, len, &b), 0);
    cr_assert_eq(b.len, strlen(want));
    cr_assert(memcmp(b.p, want, b.len) == 0, "%.*s vs %s", (int)b.len,
              (const char *)b.p, want);
    sfb_buf_free(&b);
    free(want);
    json_decref(o);
    json_decref(v);
    free(out);
  }
  /* a result that does not decode: declined, the tree answers 502 */
  sfb_buf b = {0};
  cr_assert_eq(sfc_call_answer_write(m, "r", (const uint8_t[]){0x0A, 9}, 2, &b),
               -1);
  cr_assert_eq(b.len, 0);
  sfb_buf_free(&b);
}
