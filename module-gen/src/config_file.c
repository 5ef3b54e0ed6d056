/*
 * config_file.c - the JSON config file (--config app.json).
 *
 *   {
 *     "functions": [
 *       "shop.fns/cart",                                  // one type, or
 *                                                         // a namespace
 *                                                         // wildcard
 *       {"type": "shop.fns/order",                        // a type and the
 *        "topics": ["orders", {"topic": "vip-orders",     // topics that feed
 *                              "valueType": "shop/Vip"}]} // it
 *     ],
 *     "endpoint": {"urlTemplate": "http://fns:8000/statefun/{function.name}",
 *                  "maxBatch": 1000, "callTimeout": "2m",
 *                  "connectTimeout": "20s"},              // or "url"
 *     "kafka": {"address": "kafka:9092", "ingressId": "shop/in",
 *               "consumerGroup": "shop", "startupPosition": "earliest",
 *               "valueType": "io.statefun.types/string"},
 *     "egresses": [{"id": "shop/out", "topics": ["receipts"],
 *                   "delivery": "exactly-once",
 *                   "transactionTimeout": "15min"}]
 *   }
 *
 *     "ir": ["shop.ir.json"], "entityTopics": true     // as --ir (paths
 *                                                      // relative to the
 *                                                      // file), and
 *                                                      // --entity-topics
 *
 * The file is organised by function type on purpose: each entry of
 * "functions" is a type and what feeds it, and the entity IRs of "ir"
 * supply the same entries (ir_input.c).
 *
 * jansson parses (duplicate keys refused) and reports syntax errors with a
 * line and column. jansson keeps no positions for values, so the text is
 * indexed once (sfb/jpos.h) and a bad value is found by its path: every
 * error is "file:line:col: message". Unknown keys are errors: a typo would otherwise
 * silently drop a setting.
 */
#include "modgen.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sfb/jpos.h"

#define MAX_PATH 8

typedef struct {
  const char *key; /* object member, or NULL for an array index */
  size_t index;
} path_elem;

typedef struct {
  const char *file;
  const char *text;
  size_t len;
  path_elem path[MAX_PATH];
  int depth;
  sfb_jpos ix; /* where each value of the text is */
  char where[4096 + 64];
} cfg_ctx;

/* ------------------------------------------------------------------ */
/* Finding a value again in the (valid) JSON text                       */
/* ------------------------------------------------------------------ */

/* The index entry of path[0..n), NULL if absent (or out of memory). */
static const sfb_jpos_entry *entry_of(const cfg_ctx *c, int n) {
  char *ptr = NULL; /* the JSON Pointer of path[0..n); NULL is "" */
  size_t cap = 0;
  for (int i = 0; i < n; i++)
    if (sfb_jpos_push(&ptr, &cap, c->path[i].key, c->path[i].index) < 0) {
      free(ptr);
      return NULL;
    }
  const sfb_jpos_entry *e = sfb_jpos_find(&c->ix, ptr ? ptr : "");
  free(ptr);
  return e;
}

/* "file:line:col" of the current path (the deepest part found); of the
 * key rather than the value with `key_of`. */
static const char *where_(cfg_ctx *c, bool key_of) {
  sfb_pos at = {1, 1};
  for (int n = c->depth; n >= 0; n--) {
    const sfb_jpos_entry *e = entry_of(c, n);
    if (e) {
      at = key_of && n == c->depth ? e->key : e->value;
      break;
    }
  }
  snprintf(c->where, sizeof c->where, "%s:%d:%d", c->file, at.line, at.col);
  return c->where;
}

static const char *here(cfg_ctx *c) { return where_(c, false); }

static void push_key(cfg_ctx *c, const char *key) {
  c->path[c->depth].key = key;
  c->path[c->depth].index = 0;
  c->depth++;
}

static void push_index(cfg_ctx *c, size_t i) {
  c->path[c->depth].key = NULL;
  c->path[c->depth].index = i;
  c->depth++;
}

static void pop(cfg_ctx *c) { c->depth--; }

/* ------------------------------------------------------------------ */
/* Typed access                                                         */
/* ------------------------------------------------------------------ */

static const char *json_kind(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "an object";
  case JSON_ARRAY: return "an array";
  case JSON_STRING: return "a string";
  case JSON_INTEGER: case JSON_REAL: return "a number";
  case JSON_TRUE: case JSON_FALSE: return "a boolean";
  default: return "null";
  }
}

/* Refuses keys of `obj` not in `known` (the current path is obj). */
static int check_keys(cfg_ctx *c, json_t *obj, const char *what,
                      const char *const *known) {
  const char *k;
  json_t *v;
  json_object_foreach(obj, k, v) {
    bool ok = false;
    for (const char *const *p = known; *p; p++) ok |= !strcmp(*p, k);
    if (ok) continue;
    char list[256] = "";
    for (const char *const *p = known; *p; p++) {
      if (*list) strncat(list, ", ", sizeof list - strlen(list) - 1);
      strncat(list, *p, sizeof list - strlen(list) - 1);
    }
    push_key(c, k);
    for (const char *const *p = known; *p; p++)
      if (!strcasecmp(*p, k)) {
        int r = sfm_error(where_(c, true), "unknown key '%s' in %s (did you "
                          "mean '%s'?)", k, what, *p);
        pop(c);
        return r;
      }
    int r = sfm_error(where_(c, true), "unknown key '%s' in %s; known keys: %s",
                      k, what, list);
    pop(c);
    return r;
  }
  return 0;
}

/* The string at obj.key (current path = obj); NULL when absent. -1 when
 * present and not a non-empty string. */
static int get_string(cfg_ctx *c, json_t *obj, const char *key,
                      const char **out) {
  json_t *v = json_object_get(obj, key);
  *out = NULL;
  if (!v) return 0;
  push_key(c, key);
  if (!json_is_string(v) || !json_string_length(v)) {
    int r = sfm_error(here(c), "'%s' must be a non-empty string, not %s", key,
                      json_is_string(v) ? "an empty string" : json_kind(v));
    pop(c);
    return r;
  }
  if (strlen(json_string_value(v)) != json_string_length(v)) {
    int r = sfm_error(here(c), "'%s' contains a NUL character", key);
    pop(c);
    return r;
  }
  *out = json_string_value(v);
  return 0; /* caller pops */
}

static int expect(cfg_ctx *c, json_t *v, json_type type, const char *what) {
  if (json_typeof(v) == type) return 0;
  return sfm_error(here(c), "%s must be %s, not %s", what,
                   type == JSON_OBJECT ? "an object" : "an array", json_kind(v));
}

/* ------------------------------------------------------------------ */
/* Sections                                                             */
/* ------------------------------------------------------------------ */

/* One topic of a function entry: "name" or {"topic", "valueType"}. */
static int function_topic(cfg_ctx *c, sfm_app *app, json_t *v,
                          const char *type) {
  const char *name = NULL, *vt = NULL;
  if (json_is_string(v)) {
    name = json_string_value(v);
    if (sfm_check_topic(here(c), name) < 0) return -1;
  } else if (json_is_object(v)) {
    static const char *const known[] = {"topic", "valueType", NULL};
    if (check_keys(c, v, "a topic", known) < 0) return -1;
    if (get_string(c, v, "topic", &name) < 0) return -1;
    if (!name)
      return sfm_error(here(c), "topic entry: missing required key 'topic'");
    int r = sfm_check_topic(here(c), name);
    pop(c);
    if (r < 0) return -1;
    if (get_string(c, v, "valueType", &vt) < 0) return -1;
    if (vt) {
      r = sfm_check_typename(here(c), "value type", vt);
      pop(c);
      if (r < 0) return -1;
    }
  } else {
    return sfm_error(here(c), "a topic must be a name or an object "
                     "{\"topic\", \"valueType\"}, not %s", json_kind(v));
  }
  sfm_topic *t = sfm_topic_get(app, name, here(c));
  if (vt) {
    if (vt) push_key(c, "valueType");
    int r = sfm_topic_set_value_type(t, vt, here(c));
    pop(c);
    if (r < 0) return -1;
  }
  return sfm_topic_add_target(t, type, here(c));
}

static int functions(cfg_ctx *c, sfm_app *app, json_t *arr) {
  if (expect(c, arr, JSON_ARRAY, "'functions'") < 0) return -1;
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v) {
    push_index(c, i);
    const char *type = NULL;
    json_t *topics = NULL;
    if (json_is_string(v)) {
      type = json_string_value(v);
    } else if (json_is_object(v)) {
      static const char *const known[] = {"type", "topics", NULL};
      if (check_keys(c, v, "a function", known) < 0) return -1;
      if (get_string(c, v, "type", &type) < 0) return -1;
      if (!type)
        return sfm_error(here(c), "function entry: missing required key "
                         "'type'");
      pop(c);
      topics = json_object_get(v, "topics");
    } else {
      return sfm_error(here(c), "a function must be a type \"ns/name\", "
                       "\"ns/*\" or an object {\"type\", \"topics\"}, not %s",
                       json_kind(v));
    }
    if (json_is_object(v)) push_key(c, "type");
    const char *slash = strchr(type, '/');
    bool wild = slash && !strcmp(slash + 1, "*");
    if (sfm_check_function_pattern(here(c), type, wild) < 0 ||
        sfm_add_function(app, type, here(c)) < 0)
      return -1;
    if (json_is_object(v)) pop(c);
    if (topics) {
      push_key(c, "topics");
      if (wild)
        return sfm_error(here(c), "'%s' is a namespace wildcard: topics need "
                         "a function type <namespace>/<name>", type);
      if (expect(c, topics, JSON_ARRAY, "'topics'") < 0) return -1;
      size_t k;
      json_t *t;
      json_array_foreach(topics, k, t) {
        push_index(c, k);
        if (function_topic(c, app, t, type) < 0) return -1;
        pop(c);
      }
      pop(c);
    }
    pop(c);
  }
  return 0;
}

/* "ir": ["shop.ir.json", ...], each relative to the config file. */
static int ir_files(cfg_ctx *c, sfm_app *app, json_t *arr) {
  if (expect(c, arr, JSON_ARRAY, "'ir'") < 0) return -1;
  const char *slash = strrchr(c->file, '/');
  size_t dirlen = slash ? (size_t)(slash - c->file) + 1 : 0;
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v) {
    push_index(c, i);
    if (!json_is_string(v) || !json_string_length(v))
      return sfm_error(here(c), "an IR file must be a non-empty string (a "
                       "path relative to the config file), not %s",
                       json_is_string(v) ? "an empty string" : json_kind(v));
    const char *rel = json_string_value(v);
    if (strlen(rel) != json_string_length(v))
      return sfm_error(here(c), "an IR file name contains a NUL character");
    bool abs = rel[0] == '/';
    size_t n = (abs ? 0 : dirlen) + strlen(rel) + 1;
    char *path = malloc(n);
    if (!path) return sfm_error(NULL, "out of memory");
    snprintf(path, n, "%.*s%s", abs ? 0 : (int)dirlen, c->file, rel);
    int r = sfm_ir_load(app, path);
    free(path);
    if (r < 0) return -1;
    pop(c);
  }
  return 0;
}

/* obj.key as a duration into *s. */
static int duration(cfg_ctx *c, json_t *obj, const char *key, const char *what,
                    sfm_setting *s) {
  const char *v;
  if (get_string(c, obj, key, &v) < 0) return -1;
  if (!v) return 0;
  char *d = NULL;
  int r = sfm_duration(here(c), what, v, &d);
  if (r == 0) r = sfm_set(s, d, here(c));
  free(d);
  pop(c);
  return r;
}

static int endpoint(cfg_ctx *c, sfm_app *app, json_t *obj) {
  static const char *const known[] = {"url", "urlTemplate", "maxBatch",
                                      "callTimeout", "connectTimeout", NULL};
  if (expect(c, obj, JSON_OBJECT, "'endpoint'") < 0 ||
      check_keys(c, obj, "'endpoint'", known) < 0)
    return -1;
  const char *v;
  for (int tpl = 0; tpl < 2; tpl++) {
    const char *key = tpl ? "urlTemplate" : "url";
    if (get_string(c, obj, key, &v) < 0) return -1;
    if (!v) continue;
    if (tpl && app->endpoint.value) {
      int r = sfm_error(here(c), "conflicting keys: 'url' and 'urlTemplate' "
                        "both given; use one");
      pop(c);
      return r;
    }
    int r = sfm_check_url(here(c), v, tpl);
    if (r == 0) r = sfm_set(tpl ? &app->url_template : &app->endpoint, v, here(c));
    pop(c);
    if (r < 0) return -1;
  }
  json_t *mb = json_object_get(obj, "maxBatch");
  if (mb) {
    push_key(c, "maxBatch");
    char buf[32];
    if (!json_is_integer(mb) || json_integer_value(mb) < 1 ||
        json_integer_value(mb) > 2147483647)
      return sfm_error(here(c), "'maxBatch' must be an integer from 1 to "
                       "2147483647");
    snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(mb));
    if (sfm_set(&app->max_batch, buf, here(c)) < 0) return -1;
    pop(c);
  }
  if (duration(c, obj, "callTimeout", "call timeout", &app->call_timeout) < 0 ||
      duration(c, obj, "connectTimeout", "connect timeout",
               &app->connect_timeout) < 0)
    return -1;
  return 0;
}

typedef int (*check_fn)(const char *where, const char *s);

static int checked(const char *where, const char *s, check_fn f) {
  return f(where, s);
}

static int check_ingress_id(const char *where, const char *s) {
  return sfm_check_typename(where, "ingress id", s);
}

static int check_value_type(const char *where, const char *s) {
  return sfm_check_typename(where, "value type", s);
}

static int kafka(cfg_ctx *c, sfm_app *app, json_t *obj) {
  static const char *const known[] = {"address", "ingressId", "consumerGroup",
                                      "startupPosition", "valueType", NULL};
  if (expect(c, obj, JSON_OBJECT, "'kafka'") < 0 ||
      check_keys(c, obj, "'kafka'", known) < 0)
    return -1;
  struct {
    const char *key;
    sfm_setting *s;
    check_fn check;
  } keys[] = {
      {"address", &app->kafka, sfm_check_kafka_address},
      {"ingressId", &app->ingress_id, check_ingress_id},
      {"consumerGroup", &app->consumer_group, sfm_check_consumer_group},
      {"startupPosition", &app->startup, sfm_check_startup},
      {"valueType", &app->value_type, check_value_type},
  };
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
    const char *v;
    if (get_string(c, obj, keys[i].key, &v) < 0) return -1;
    if (!v) continue;
    int r = checked(here(c), v, keys[i].check);
    if (r == 0) r = sfm_set(keys[i].s, v, here(c));
    pop(c);
    if (r < 0) return -1;
  }
  return 0;
}

static int egresses(cfg_ctx *c, sfm_app *app, json_t *arr) {
  if (expect(c, arr, JSON_ARRAY, "'egresses'") < 0) return -1;
  size_t i;
  json_t *obj;
  json_array_foreach(arr, i, obj) {
    push_index(c, i);
    static const char *const known[] = {"id", "topics", "delivery",
                                        "transactionTimeout", NULL};
    if (expect(c, obj, JSON_OBJECT, "an egress") < 0 ||
        check_keys(c, obj, "an egress", known) < 0)
      return -1;
    const char *id, *v;
    if (get_string(c, obj, "id", &id) < 0) return -1;
    if (!id) return sfm_error(here(c), "egress: missing required key 'id'");
    if (sfm_check_typename(here(c), "egress id", id) < 0) return -1;
    sfm_egress *e = sfm_add_egress(app, id, here(c));
    if (!e) return -1;
    pop(c);
    json_t *topics = json_object_get(obj, "topics");
    if (topics) {
      push_key(c, "topics");
      if (expect(c, topics, JSON_ARRAY, "'topics'") < 0) return -1;
      size_t k;
      json_t *t;
      json_array_foreach(topics, k, t) {
        push_index(c, k);
        if (!json_is_string(t))
          return sfm_error(here(c), "a topic must be a string, not %s",
                           json_kind(t));
        if (sfm_check_topic(here(c), json_string_value(t)) < 0) return -1;
        sfm_egress_add_topic(e, json_string_value(t));
        pop(c);
      }
      pop(c);
    }
    if (get_string(c, obj, "delivery", &v) < 0) return -1;
    if (v) {
      if (sfm_parse_delivery(here(c), v, &e->delivery) < 0) return -1;
      pop(c);
    }
    if (get_string(c, obj, "transactionTimeout", &v) < 0) return -1;
    if (v) {
      if (sfm_duration(here(c), "transaction timeout", v, &e->txn_timeout) < 0)
        return -1;
      e->txn_where = strdup(here(c));
      pop(c);
    }
    pop(c);
  }
  return 0;
}

static char *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = NULL;
  size_t cap = 0;
  *len = 0;
  for (;;) {
    if (*len + 4096 > cap) {
      cap = cap ? 2 * cap : 8192;
      char *b = realloc(buf, cap);
      if (!b) {
        free(buf);
        fclose(f);
        errno = ENOMEM;
        return NULL;
      }
      buf = b;
    }
    size_t r = fread(buf + *len, 1, cap - *len - 1, f);
    *len += r;
    if (r == 0) break;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    free(buf);
    errno = EIO;
    return NULL;
  }
  buf[*len] = 0;
  return buf;
}

int sfm_config_load(const char *path, sfm_app *app) {
  cfg_ctx c = {0};
  c.file = path;
  char *text = read_all(path, &c.len);
  if (!text)
    return sfm_error("--config", "cannot read '%s': %s", path, strerror(errno));
  c.text = text;
  json_error_t err;
  json_t *root = json_loadb(text, c.len, JSON_REJECT_DUPLICATES, &err);
  int rc = -1;
  if (!root) {
    char where[4200];
    snprintf(where, sizeof where, "%s:%d:%d", path, err.line < 1 ? 1 : err.line,
             err.column < 1 ? 1 : err.column);
    sfm_error(where, "invalid JSON: %s", err.text);
    goto out;
  }
  /* Out of memory leaves the index empty: errors then point at 1:1. */
  (void)sfb_jpos_build(&c.ix, text, c.len);
  if (!json_is_object(root)) {
    sfm_error(here(&c), "a config file must be a JSON object with "
              "\"functions\", not %s", json_kind(root));
    goto out;
  }
  static const char *const known[] = {"functions", "ir", "entityTopics",
                                      "endpoint", "kafka", "egresses", NULL};
  if (check_keys(&c, root, "the config file", known) < 0) goto out;
  json_t *v;
  if ((v = json_object_get(root, "functions"))) {
    push_key(&c, "functions");
    if (functions(&c, app, v) < 0) goto out;
    pop(&c);
  }
  if ((v = json_object_get(root, "ir"))) {
    push_key(&c, "ir");
    if (ir_files(&c, app, v) < 0) goto out;
    pop(&c);
  }
  if ((v = json_object_get(root, "entityTopics"))) {
    push_key(&c, "entityTopics");
    if (!json_is_boolean(v)) {
      sfm_error(here(&c), "'entityTopics' must be true or false, not %s",
                json_kind(v));
      goto out;
    }
    if (json_is_true(v) && sfm_set(&app->entity_topics, "true", here(&c)) < 0)
      goto out;
    pop(&c);
  }
  if ((v = json_object_get(root, "endpoint"))) {
    push_key(&c, "endpoint");
    if (endpoint(&c, app, v) < 0) goto out;
    pop(&c);
  }
  if ((v = json_object_get(root, "kafka"))) {
    push_key(&c, "kafka");
    if (kafka(&c, app, v) < 0) goto out;
    pop(&c);
  }
  if ((v = json_object_get(root, "egresses"))) {
    push_key(&c, "egresses");
    if (egresses(&c, app, v) < 0) goto out;
    pop(&c);
  }
  rc = 0;
out:
  sfb_jpos_free(&c.ix);
  json_decref(root);
  free(text);
  return rc;
}
