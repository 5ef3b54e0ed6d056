/*
 * config_io.c - ingresses and egresses of module.yaml as StateFun's specs
 * accept them: Kafka (RoutableKafkaIngressSpec, GenericKafkaEgressSpec),
 * Kinesis, and the playground's ingress and egress; what sf-local needs of
 * them is copied into the config.
 */
#include "config_impl.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int check_properties(ctx *c, const ynode *spec, const char *key) {
  ynode *p;
  if (cfg_get_seq(c, spec, key, false, "spec", &p) < 0) return -1;
  if (!p) return 0;
  for (size_t i = 0; i < p->n; i++)
    if (p->kids[i]->type != YN_MAP || p->kids[i]->n != 2)
      return cfg_fail(c, p->kids[i],
                      "each entry of '%s' must be a one-key mapping like "
                      "'- key: value', not %s",
                      key, cfg_what(p->kids[i]));
  return 0;
}

/* startupPosition: {type: ..., date/offsets} for Kafka or Kinesis. */
static int check_startup(ctx *c, const ynode *spec, bool kafka) {
  ynode *sp, *type;
  if (cfg_get_map(c, spec, "startupPosition", false, "spec", &sp) < 0)
    return -1;
  if (!sp) return 0;
  if (cfg_get_str(c, sp, "type", true, "startupPosition", &type) < 0) return -1;
  const char *t = type->text;
  bool ok = !strcmp(t, "earliest") || !strcmp(t, "latest") ||
            !strcmp(t, "date") ||
            (kafka &&
             (!strcmp(t, "group-offsets") || !strcmp(t, "specific-offsets")));
  if (!ok)
    return cfg_fail(
        c, type, "invalid startupPosition type '%s'; valid types: %s",
        cfg_q(c, type),
        kafka ? "group-offsets, earliest, latest, specific-offsets, date"
              : "earliest, latest, date");
  if (!strcmp(t, "date")) {
    ynode *d;
    if (cfg_get_str(c, sp, "date", true, "startupPosition", &d) < 0) return -1;
    /* yyyy-MM-dd HH:mm:ss.SSS Z */
    const char *shape = "dddd-dd-dd dd:dd:dd.ddd sdddd";
    const char *s = d->text;
    bool good = strlen(s) == strlen(shape);
    for (size_t i = 0; good && shape[i]; i++) {
      if (shape[i] == 'd') good = isdigit((unsigned char)s[i]);
      else if (shape[i] == 's') good = s[i] == '+' || s[i] == '-';
      else good = s[i] == shape[i];
    }
    if (!good)
      return cfg_fail(
          c, d,
          "invalid startupPosition date '%s': expected "
          "yyyy-MM-dd HH:mm:ss.SSS Z, e.g. 2020-02-01 04:15:00.000 -0700",
          cfg_q(c, d));
  }
  if (!strcmp(t, "specific-offsets")) {
    ynode *o;
    if (cfg_get_seq(c, sp, "offsets", true, "startupPosition", &o) < 0)
      return -1;
    for (size_t i = 0; i < o->n; i++) {
      const ynode *e = o->kids[i];
      uint64_t x;
      if (e->type != YN_MAP || e->n != 2 || e->kids[0]->type != YN_SCALAR ||
          !strchr(e->kids[0]->text, '/') || e->kids[1]->type != YN_SCALAR ||
          !cfg_parse_u64(e->kids[1]->text, &x))
        return cfg_fail(c, e,
                        "each entry of 'offsets' must look like "
                        "'- topic/partition: offset'");
    }
  }
  return 0;
}

/* topics / streams of a routable ingress. */
static int parse_routes(ctx *c, const ynode *spec, sfl_ingress *in,
                        bool kafka) {
  const char *list = kafka ? "topics" : "streams";
  const char *item = kafka ? "topic" : "stream";
  ynode *seq;
  if (cfg_get_seq(c, spec, list, true, "ingress spec", &seq) < 0) return -1;
  if (seq->n == 0)
    return cfg_fail(c, seq, "'%s' must list at least one %s", list, item);
  in->routes = calloc(seq->n, sizeof *in->routes);
  if (!in->routes) return cfg_oom(c);
  for (size_t i = 0; i < seq->n; i++) {
    const ynode *e = seq->kids[i];
    if (e->type != YN_MAP)
      return cfg_fail(c, e,
                      "each entry of '%s' must be a mapping with '%s', "
                      "'valueType' and 'targets', not %s",
                      list, item, cfg_what(e));
    if (cfg_check_keys(c, e) < 0) return -1;
    ynode *name, *vt, *tg;
    char where[64];
    snprintf(where, sizeof where, "%s entry", item);
    if (cfg_get_str(c, e, item, true, where, &name) < 0) return -1;
    for (size_t j = 0; j < in->n_routes; j++)
      if (!strcmp(in->routes[j].topic, name->text))
        return cfg_fail(c, name, "duplicate %s '%s' in this ingress", item,
                        cfg_q(c, name));
    snprintf(where, sizeof where, "%s '%s'", item, cfg_q(c, name));
    if (cfg_get_str(c, e, "valueType", true, where, &vt) < 0 ||
        cfg_check_typename(c, vt, "valueType") < 0 ||
        cfg_get_seq(c, e, "targets", true, where, &tg) < 0)
      return -1;
    if (tg->n == 0)
      return cfg_fail(c, tg, "'targets' must list at least one function type");
    for (size_t j = 0; j < tg->n; j++)
      if (cfg_check_typename(c, tg->kids[j], "target function type") < 0)
        return -1;
    sfl_route *r = &in->routes[in->n_routes++];
    r->topic = cfg_dup_text(c, name);
    r->value_type = cfg_dup_text(c, vt);
    r->targets = calloc(tg->n, sizeof *r->targets);
    if (!r->topic || !r->value_type || !r->targets) return cfg_oom(c);
    for (size_t j = 0; j < tg->n; j++) {
      r->targets[r->n_targets] = cfg_dup_text(c, tg->kids[j]);
      if (!r->targets[r->n_targets]) return -1;
      r->n_targets++;
    }
  }
  return 0;
}

static int check_aws(ctx *c, const ynode *spec) {
  ynode *m, *type, *x;
  if (cfg_get_map(c, spec, "awsRegion", false, "spec", &m) < 0) return -1;
  if (m) {
    if (cfg_get_str(c, m, "type", true, "awsRegion", &type) < 0) return -1;
    if (!strcmp(type->text, "specific")) {
      if (cfg_get_str(c, m, "id", true, "awsRegion", &x) < 0) return -1;
    } else if (!strcmp(type->text, "custom-endpoint")) {
      if (cfg_get_str(c, m, "endpoint", true, "awsRegion", &x) < 0 ||
          cfg_get_str(c, m, "id", true, "awsRegion", &x) < 0)
        return -1;
    } else if (strcmp(type->text, "default")) {
      return cfg_fail(c, type,
                      "invalid awsRegion type '%s'; valid types: default, "
                      "specific, custom-endpoint",
                      cfg_q(c, type));
    }
  }
  if (cfg_get_map(c, spec, "awsCredentials", false, "spec", &m) < 0) return -1;
  if (m) {
    if (cfg_get_str(c, m, "type", true, "awsCredentials", &type) < 0) return -1;
    if (!strcmp(type->text, "basic")) {
      if (cfg_get_str(c, m, "accessKeyId", true, "awsCredentials", &x) < 0 ||
          cfg_get_str(c, m, "secretAccessKey", true, "awsCredentials", &x) < 0)
        return -1;
    } else if (!strcmp(type->text, "profile")) {
      if (cfg_get_str(c, m, "profileName", true, "awsCredentials", &x) < 0 ||
          cfg_get_str(c, m, "profilePath", false, "awsCredentials", &x) < 0)
        return -1;
    } else if (strcmp(type->text, "default")) {
      return cfg_fail(c, type,
                      "invalid awsCredentials type '%s'; valid types: "
                      "default, basic, profile",
                      cfg_q(c, type));
    }
  }
  return 0;
}

/* Takes ownership of *in (frees it on failure). */
static int add_ingress(ctx *c, build_state *bs, const ynode *id_node,
                       const char *id, sfl_ingress *in) {
  sfl_config *cfg = bs->cfg;
  char **ids = malloc((cfg->n_ingresses + 1) * sizeof *ids);
  int r = ids ? 0 : cfg_oom(c);
  for (size_t i = 0; ids && i < cfg->n_ingresses; i++)
    ids[i] = cfg->ingresses[i].id;
  if (ids)
    r = cfg_note_id(c, id_node, id, "ingress id", ids, cfg->n_ingresses,
                    &bs->in_line, &bs->in_col, &bs->cap_inl);
  free(ids);
  if (r == 0 && GROW(cfg->ingresses, cfg->n_ingresses, bs->cap_in) < 0)
    r = cfg_oom(c);
  if (r < 0) {
    cfg_ingress_free(in);
    return -1;
  }
  in->id = strdup(id);
  cfg->ingresses[cfg->n_ingresses++] = *in; /* owned by cfg from here */
  if (!in->id) return cfg_oom(c);
  return 0;
}

static int add_egress(ctx *c, build_state *bs, const ynode *id_node,
                      const char *id, sfl_egress *eg) {
  sfl_config *cfg = bs->cfg;
  char **ids = malloc((cfg->n_egresses + 1) * sizeof *ids);
  if (!ids) return cfg_oom(c);
  for (size_t i = 0; i < cfg->n_egresses; i++) ids[i] = cfg->egresses[i].id;
  int r = cfg_note_id(c, id_node, id, "egress id", ids, cfg->n_egresses,
                      &bs->eg_line, &bs->eg_col, &bs->cap_egl);
  free(ids);
  if (r < 0) return -1;
  if (GROW(cfg->egresses, cfg->n_egresses, bs->cap_eg) < 0) return cfg_oom(c);
  eg->id = strdup(id);
  cfg->egresses[cfg->n_egresses++] = *eg;
  if (!eg->id) return cfg_oom(c);
  return 0;
}

void cfg_ingress_free(sfl_ingress *in) {
  for (size_t i = 0; i < in->n_routes; i++) {
    free(in->routes[i].topic);
    free(in->routes[i].value_type);
    for (size_t j = 0; j < in->routes[i].n_targets; j++)
      free(in->routes[i].targets[j]);
    free(in->routes[i].targets);
  }
  free(in->routes);
  free(in->id);
}

int cfg_parse_ingress(ctx *c, build_state *bs, const ynode *doc,
                      const ynode *spec, sfl_io_kind kind) {
  sfl_ingress in = {0};
  in.kind = kind;
  in.line = doc->line;
  ynode *id;
  if (cfg_get_str(c, spec, "id", true, "ingress spec", &id) < 0 ||
      cfg_check_typename(c, id, "ingress id") < 0)
    return -1;
  if (kind == SFL_KAFKA) {
    ynode *x;
    if (cfg_get_str(c, spec, "address", false, "spec", &x) < 0 ||
        cfg_get_str(c, spec, "consumerGroupId", false, "spec", &x) < 0 ||
        cfg_get_str(c, spec, "autoOffsetResetPosition", false, "spec", &x) < 0)
      return -1;
    if (x && strcasecmp(x->text, "latest") && strcasecmp(x->text, "earliest"))
      return cfg_fail(c, x,
                      "invalid autoOffsetResetPosition '%s'; valid values: "
                      "latest, earliest",
                      cfg_q(c, x));
    if (check_startup(c, spec, true) < 0 ||
        check_properties(c, spec, "properties") < 0)
      return -1;
  } else {
    if (check_aws(c, spec) < 0 || check_startup(c, spec, false) < 0 ||
        check_properties(c, spec, "clientConfigProperties") < 0)
      return -1;
  }
  if (parse_routes(c, spec, &in, kind == SFL_KAFKA) < 0) {
    cfg_ingress_free(&in);
    return -1;
  }
  return add_ingress(c, bs, id, id->text, &in);
}

int cfg_parse_egress(ctx *c, build_state *bs, const ynode *doc,
                     const ynode *spec, sfl_io_kind kind) {
  sfl_egress eg = {0};
  eg.kind = kind;
  eg.line = doc->line;
  ynode *id;
  if (cfg_get_str(c, spec, "id", true, "egress spec", &id) < 0 ||
      cfg_check_typename(c, id, "egress id") < 0)
    return -1;
  if (kind == SFL_KAFKA) {
    ynode *x, *ds, *type;
    if (cfg_get_str(c, spec, "address", false, "spec", &x) < 0 ||
        check_properties(c, spec, "properties") < 0 ||
        cfg_get_map(c, spec, "deliverySemantic", false, "spec", &ds) < 0)
      return -1;
    if (ds) {
      if (cfg_get_str(c, ds, "type", true, "deliverySemantic", &type) < 0)
        return -1;
      if (!strcmp(type->text, "exactly-once")) {
        eg.exactly_once = true;
        /* GenericKafkaEgressSpec: the deprecated transactionTimeoutMillis
         * (read with asLong(), so "15min" would silently become 0) wins,
         * else transactionTimeout is required. */
        ynode *millis = cfg_map_get(ds, "transactionTimeoutMillis");
        if (millis) {
          uint64_t v;
          if (millis->type != YN_SCALAR || !cfg_parse_u64(millis->text, &v) ||
              !v)
            return cfg_fail(
                c, millis,
                "'transactionTimeoutMillis' must be a positive number "
                "of milliseconds (Flink reads '%s' as 0); use "
                "'transactionTimeout: 15min' instead",
                cfg_q(c, millis));
        } else {
          int64_t ms = -1;
          if (!cfg_map_get(ds, "transactionTimeout") ||
              cfg_is_null(cfg_map_get(ds, "transactionTimeout")))
            return cfg_fail(c, ds,
                            "deliverySemantic exactly-once: missing "
                            "required key 'transactionTimeout'");
          if (cfg_get_duration(c, ds, "transactionTimeout", true, &ms, NULL) <
              0)
            return -1;
        }
      } else if (strcmp(type->text, "at-least-once") &&
                 strcmp(type->text, "none")) {
        return cfg_fail(c, type,
                        "invalid deliverySemantic type '%s'; valid types: "
                        "at-least-once, exactly-once, none",
                        cfg_q(c, type));
      }
    }
  } else {
    int64_t n = 0;
    if (check_aws(c, spec) < 0 ||
        check_properties(c, spec, "clientConfigProperties") < 0 ||
        cfg_get_int(c, spec, "maxOutstandingRecords", 1, INT32_MAX,
                    "a positive integer", &n) < 0)
      return -1;
  }
  return add_egress(c, bs, id, id->text, &eg);
}

int cfg_parse_playground(ctx *c, build_state *bs, const ynode *doc,
                         const ynode *spec, bool ingress) {
  int64_t port = ingress ? 8090 : 8091;
  /* 0: any free port (Undertow binds an ephemeral one there too). */
  if (cfg_get_int(c, spec, "port", 0, 65535, "a port number (0-65535)", &port) <
      0)
    return -1;
  const ynode *at = cfg_map_get(spec, "port") ? cfg_map_get(spec, "port") : doc;
  if (ingress) {
    sfl_ingress in = {0};
    in.kind = SFL_PLAYGROUND;
    in.port = (int)port;
    in.line = doc->line;
    return add_ingress(c, bs, at, "io.statefun.playground/ingress", &in);
  }
  /* Required: the playground's PlaygroundEgress copies the set at start-up
   * (a missing one fails the job there). */
  ynode *topics;
  if (cfg_get_seq(c, spec, "topics", true, "playground egress spec", &topics) <
      0)
    return -1;
  sfl_egress eg = {0};
  eg.kind = SFL_PLAYGROUND;
  eg.port = (int)port;
  eg.line = doc->line;
  if (add_egress(c, bs, at, "io.statefun.playground/egress", &eg) < 0)
    return -1;
  sfl_egress *e = &bs->cfg->egresses[bs->cfg->n_egresses - 1];
  e->topics = calloc(topics->n ? topics->n : 1, sizeof *e->topics);
  if (!e->topics) return cfg_oom(c);
  for (size_t i = 0; i < topics->n; i++) {
    const ynode *t = topics->kids[i];
    if (t->type != YN_SCALAR || cfg_is_null(t))
      return cfg_fail(c, t,
                      "each entry of 'topics' must be a topic name, not %s",
                      cfg_what(t));
    for (size_t j = 0; j < e->n_topics; j++)
      if (!strcmp(e->topics[j], t->text))
        return cfg_fail(c, t, "duplicate topic '%s'", cfg_q(c, t));
    if (!(e->topics[e->n_topics] = cfg_dup_text(c, t))) return -1;
    e->n_topics++;
  }
  return 0;
}
