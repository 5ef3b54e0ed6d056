/*
 * test_entity_json.c - the IR-driven JSON <-> record codec
 * (codegen/src/ir_json.h): byte-exact against hand-encoded protobuf wire,
 * exact error messages, and round trips over every method of the
 * shopping-cart and hotel IRs.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "ir_json.h"

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
  cr_assert_str_eq(err, "items[0]: the key is not valid UTF-8 (or holds a NUL "
                        "byte)");
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
