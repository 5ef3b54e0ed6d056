/*
 * model.c - the checks every value goes through, whether it came from the
 * command line or from a config file, and the cross-checks of the whole
 * app before anything is printed.
 *
 * The rules are the ones the StateFun 3.x runtime applies when it loads a
 * module.yaml (and sf-local's reader, runtime/src/config.c, which follows
 * them), made a little stricter where a value would otherwise need YAML
 * quoting or would be silently misread: a typename is exactly one '/' with
 * both sides made of letters, digits, '.', '_' and '-'; a Kafka topic uses
 * Kafka's own alphabet; durations are Flink's TimeUtils format.
 */
#include "modgen.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sfb/duration.h"

int sfm_error(const char *where, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  for (char *p = msg; *p; p++) /* one line, whatever the user typed */
    if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
  /* A file position is already "file:line:col"; an option gets our name. */
  if (where && where[0] == '-')
    fprintf(stderr, "sf-modgen: %s: %s\n", where, msg);
  else if (where)
    fprintf(stderr, "%s: %s\n", where, msg);
  else
    fprintf(stderr, "sf-modgen: %s\n", msg);
  return -1;
}

static char *xstrdup(const char *s) {
  char *d = strdup(s ? s : "");
  if (!d) {
    fprintf(stderr, "sf-modgen: out of memory\n");
    exit(SFM_EXIT_IO);
  }
  return d;
}

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) {
    fprintf(stderr, "sf-modgen: out of memory\n");
    exit(SFM_EXIT_IO);
  }
  return q;
}

/* ------------------------------------------------------------------ */
/* Value checks                                                         */
/* ------------------------------------------------------------------ */

static bool name_char(char c) {
  return isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-';
}

/* Both sides of one '/', each non-empty and made of name_char (the name
 * may be "*" when `wildcard_ok`). */
static bool typename_ok(const char *s, bool wildcard_ok, bool *is_wild) {
  const char *slash = strchr(s, '/');
  *is_wild = false;
  if (!slash || slash == s || !slash[1] || strchr(slash + 1, '/')) return false;
  for (const char *p = s; p < slash; p++)
    if (!name_char(*p)) return false;
  if (!strcmp(slash + 1, "*")) {
    *is_wild = true;
    return wildcard_ok;
  }
  for (const char *p = slash + 1; *p; p++)
    if (!name_char(*p)) return false;
  return true;
}

int sfm_check_typename(const char *where, const char *what, const char *s) {
  bool wild;
  if (typename_ok(s, false, &wild)) return 0;
  if (wild)
    return sfm_error(where, "invalid %s '%s': a wildcard is not allowed here; "
                     "expected <namespace>/<name>", what, s);
  return sfm_error(where, "invalid %s '%s': expected <namespace>/<name> "
                   "(letters, digits, '.', '_', '-' on each side of one '/')",
                   what, s);
}

int sfm_check_function_pattern(const char *where, const char *s, bool wildcard) {
  bool wild;
  bool ok = typename_ok(s, true, &wild);
  if (ok && wildcard && !wild)
    return sfm_error(where, "'%s' is not a namespace wildcard: expected "
                     "<namespace>/* (use --function for one function type)", s);
  if (ok && !wildcard && wild)
    return sfm_error(where, "'%s' is a namespace wildcard: use --functions "
                     "for <namespace>/*", s);
  if (ok) return 0;
  if (wildcard)
    return sfm_error(where, "invalid function namespace '%s': expected "
                     "<namespace>/* (letters, digits, '.', '_', '-')", s);
  return sfm_error(where, "invalid function type '%s': expected "
                   "<namespace>/<name> (letters, digits, '.', '_', '-' on "
                   "each side of one '/')", s);
}

int sfm_check_topic(const char *where, const char *s) {
  size_t n = strlen(s);
  if (!n) return sfm_error(where, "empty topic name");
  if (n > 249)
    return sfm_error(where, "topic name '%.40s...' is longer than Kafka's "
                     "249 characters", s);
  if (!strcmp(s, ".") || !strcmp(s, ".."))
    return sfm_error(where, "invalid topic name '%s'", s);
  for (const char *p = s; *p; p++)
    if (!name_char(*p))
      return sfm_error(where, "invalid topic name '%s': Kafka topics use "
                       "letters, digits, '.', '_' and '-'", s);
  return 0;
}

/* No whitespace, no control characters, no quotes: the URL goes into the
 * YAML as it is and into HTTP requests. */
static bool url_chars_ok(const char *s) {
  for (const char *p = s; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\'' || c == '\\' ||
        c == '#' || c == '<' || c == '>' || c == '`')
      return false;
  }
  return true;
}

int sfm_check_url(const char *where, const char *s, bool is_template) {
  size_t skip = 0;
  if (!strncmp(s, "http://", 7)) skip = 7;
  else if (!strncmp(s, "https://", 8)) skip = 8;
  else
    return sfm_error(where, "URL '%s' must start with http:// or https://", s);
  if (!s[skip] || s[skip] == '/' || s[skip] == ':' || s[skip] == '{')
    return sfm_error(where, "URL '%s' has no host", s);
  if (!url_chars_ok(s))
    return sfm_error(where, "URL '%s' contains a space, a quote or a "
                     "character that needs escaping", s);
  const char *hole = strstr(s, "{function.name}");
  if (is_template && !hole)
    return sfm_error(where, "URL template '%s' has no {function.name}; use "
                     "--endpoint for one URL that serves every function type",
                     s);
  if (!is_template && hole)
    return sfm_error(where, "URL '%s' contains {function.name}; use "
                     "--url-template for a template", s);
  /* Any other brace is a typo of the placeholder. */
  for (const char *p = s; *p; p++) {
    if (hole && p == hole) {
      p += strlen("{function.name}") - 1;
      hole = strstr(p + 1, "{function.name}");
      continue;
    }
    if (*p == '{' || *p == '}')
      return sfm_error(where, "URL '%s': the only placeholder StateFun knows "
                       "is {function.name}", s);
  }
  return 0;
}

int sfm_check_kafka_address(const char *where, const char *s) {
  /* host:port[,host:port...] */
  const char *p = s;
  if (!*p) return sfm_error(where, "empty Kafka address");
  while (*p) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    const char *colon = NULL;
    for (size_t i = 0; i < len; i++)
      if (p[i] == ':') colon = p + i;
    bool ok = colon && colon != p && colon + 1 < p + len;
    for (size_t i = 0; ok && i < len; i++) {
      char c = p[i];
      ok = isalnum((unsigned char)c) || c == '.' || c == '-' || c == '_' ||
           c == ':' || c == '[' || c == ']';
    }
    for (const char *d = colon ? colon + 1 : p; ok && d < p + len; d++)
      ok = isdigit((unsigned char)*d);
    if (!ok)
      return sfm_error(where, "invalid Kafka address '%s': expected "
                       "HOST:PORT[,HOST:PORT...], e.g. kafka:9092", s);
    p += len;
    if (*p == ',') {
      p++;
      if (!*p)
        return sfm_error(where, "invalid Kafka address '%s': trailing ','", s);
    }
  }
  return 0;
}

int sfm_check_consumer_group(const char *where, const char *s) {
  if (!*s) return sfm_error(where, "empty consumer group");
  for (const char *p = s; *p; p++)
    if (!name_char(*p))
      return sfm_error(where, "invalid consumer group '%s': use letters, "
                       "digits, '.', '_' and '-'", s);
  return 0;
}

int sfm_check_startup(const char *where, const char *s) {
  if (!strcmp(s, "earliest") || !strcmp(s, "latest") ||
      !strcmp(s, "group-offsets"))
    return 0;
  return sfm_error(where, "unknown startup position '%s'; valid: earliest, "
                   "latest, group-offsets", s);
}

int sfm_parse_delivery(const char *where, const char *s, sfm_delivery *out) {
  if (!strcmp(s, "exactly-once")) *out = SFM_EXACTLY_ONCE;
  else if (!strcmp(s, "at-least-once")) *out = SFM_AT_LEAST_ONCE;
  else if (!strcmp(s, "none")) *out = SFM_NONE;
  else
    return sfm_error(where, "unknown delivery semantic '%s'; valid: "
                     "exactly-once, at-least-once, none", s);
  return 0;
}

int sfm_check_max_batch(const char *where, const char *s) {
  uint64_t v = 0;
  bool ok = *s != 0;
  for (const char *p = s; ok && *p; p++) {
    ok = isdigit((unsigned char)*p) && v <= (uint64_t)INT32_MAX;
    v = v * 10 + (uint64_t)(*p - '0');
  }
  if (!ok || v == 0 || v > INT32_MAX)
    return sfm_error(where, "invalid batch size '%s': expected an integer "
                     "from 1 to 2147483647", s);
  return 0;
}

/* The syntax is Flink's (sfb/duration.h); on top of it a unit is required
 * and zero is refused, and the result is normalized ("020 Min" ->
 * "20min") for module.yaml. */
int sfm_duration(const char *where, const char *what, const char *s,
                 char **out) {
  sfb_duration d;
  sfb_duration_error e = sfb_duration_parse(s, &d);
  if (e == SFB_DURATION_EMPTY || e == SFB_DURATION_NO_NUMBER)
    return sfm_error(where, "invalid %s '%s': expected a number with a unit "
                     "such as ms, s, min, h or d (e.g. 2min, 20s, 500ms)",
                     what, s);
  if (e == SFB_DURATION_TOO_LARGE)
    return sfm_error(where, "invalid %s '%s': too large", what, s);
  if (e == SFB_DURATION_UNKNOWN_UNIT)
    return sfm_error(where, "invalid %s '%s': unknown unit '%.*s'; use ms, "
                     "s, min, h or d", what, s, d.unit_len, d.unit_text);
  /* Flink reads a bare number as milliseconds; "--call-timeout 2" is far
   * more likely a mistake than 2 ms, so a unit is required. */
  if (!d.unit[0])
    return sfm_error(where, "invalid %s '%s': give a unit (ms, s, min, h or "
                     "d), e.g. %.*sms or %.*smin", what, s, d.n_digits,
                     d.digits, d.n_digits, d.digits);
  int64_t ms;
  if (sfb_duration_ms(&d, &ms) != SFB_DURATION_OK)
    return sfm_error(where, "invalid %s '%s': too large", what, s);
  if (d.value == 0)
    return sfm_error(where, "invalid %s '%s': must be larger than 0", what, s);
  char buf[64];
  snprintf(buf, sizeof buf, "%llu%s", (unsigned long long)d.value, d.unit);
  *out = xstrdup(buf);
  return 0;
}

/* ------------------------------------------------------------------ */
/* Building                                                             */
/* ------------------------------------------------------------------ */

static bool from_file(const char *where) { return where && where[0] != '-'; }

int sfm_set(sfm_setting *s, const char *value, const char *where) {
  if (s->value && !from_file(s->where) && !from_file(where))
    return sfm_error(where, "given twice (first '%s', then '%s')", s->value,
                     value);
  /* The command line overrides the config file (config files are read
   * first). */
  free(s->value);
  free(s->where);
  s->value = xstrdup(value);
  s->where = xstrdup(where);
  return 0;
}

int sfm_add_function(sfm_app *app, const char *pattern, const char *where) {
  for (size_t i = 0; i < app->n_functions; i++)
    if (!strcmp(app->functions[i].pattern, pattern))
      return sfm_error(where, "function type '%s' is given twice (first at "
                       "%s)", pattern, app->functions[i].where);
  app->functions = xrealloc(app->functions,
                            (app->n_functions + 1) * sizeof *app->functions);
  app->functions[app->n_functions].pattern = xstrdup(pattern);
  app->functions[app->n_functions].where = xstrdup(where);
  app->functions[app->n_functions].from_ir = false;
  app->n_functions++;
  return 0;
}

sfm_topic *sfm_topic_get(sfm_app *app, const char *topic, const char *where) {
  for (size_t i = 0; i < app->n_topics; i++)
    if (!strcmp(app->topics[i].topic, topic)) return &app->topics[i];
  app->topics = xrealloc(app->topics, (app->n_topics + 1) * sizeof *app->topics);
  sfm_topic *t = &app->topics[app->n_topics++];
  memset(t, 0, sizeof *t);
  t->topic = xstrdup(topic);
  t->where = xstrdup(where);
  return t;
}

int sfm_topic_add_target(sfm_topic *t, const char *type, const char *where) {
  for (size_t i = 0; i < t->n_targets; i++)
    if (!strcmp(t->targets[i].type, type))
      return sfm_error(where, "topic '%s' already targets '%s' (at %s)",
                       t->topic, type, t->targets[i].where);
  t->targets = xrealloc(t->targets, (t->n_targets + 1) * sizeof *t->targets);
  t->targets[t->n_targets].type = xstrdup(type);
  t->targets[t->n_targets].where = xstrdup(where);
  t->n_targets++;
  return 0;
}

int sfm_topic_set_value_type(sfm_topic *t, const char *vt, const char *where) {
  if (t->value_type && strcmp(t->value_type, vt))
    return sfm_error(where, "topic '%s' has two value types: '%s' (at %s) and "
                     "'%s'; one Kafka topic carries one value type",
                     t->topic, t->value_type, t->where, vt);
  if (!t->value_type) {
    t->value_type = xstrdup(vt);
    free(t->where);
    t->where = xstrdup(where);
  }
  return 0;
}

sfm_egress *sfm_add_egress(sfm_app *app, const char *id, const char *where) {
  for (size_t i = 0; i < app->n_egresses; i++)
    if (!strcmp(app->egresses[i].id, id)) {
      sfm_error(where, "egress '%s' is given twice (first at %s)", id,
                app->egresses[i].where);
      return NULL;
    }
  app->egresses =
      xrealloc(app->egresses, (app->n_egresses + 1) * sizeof *app->egresses);
  sfm_egress *e = &app->egresses[app->n_egresses++];
  memset(e, 0, sizeof *e);
  e->id = xstrdup(id);
  e->where = xstrdup(where);
  return e;
}

int sfm_egress_add_topic(sfm_egress *e, const char *topic) {
  for (size_t i = 0; i < e->n_topics; i++)
    if (!strcmp(e->topics[i], topic)) return 0;
  e->topics = xrealloc(e->topics, (e->n_topics + 1) * sizeof *e->topics);
  e->topics[e->n_topics++] = xstrdup(topic);
  return 0;
}

/* The function entry serving `type`, exact or by namespace wildcard. */
static const sfm_function *served_by(const sfm_app *app, const char *type) {
  const char *slash = strchr(type, '/');
  size_t nslen = (size_t)(slash - type);
  for (size_t i = 0; i < app->n_functions; i++) {
    const char *p = app->functions[i].pattern;
    if (!strcmp(p, type)) return &app->functions[i];
    if (!strncmp(p, type, nslen + 1) && !strcmp(p + nslen + 1, "*"))
      return &app->functions[i];
  }
  return NULL;
}

/* The entities of the --ir files: endpoints (unless the command line or
 * the config file already declares the type, exactly or by a namespace
 * wildcard), the replies egress of each namespace when no egress is
 * declared and Kafka is, and with --entity-topics a Call topic each. */
static int merge_ir(sfm_app *app) {
  if (app->entity_topics.value && !app->n_ir_types)
    return sfm_error(app->entity_topics.where, "conflicting options: "
                     "--entity-topics without --ir");
  if (!app->n_ir_types) return 0;
  for (size_t i = 0; i < app->n_ir_types; i++) {
    const sfm_function *e = &app->ir_types[i];
    bool declared = false;
    for (size_t k = 0; k < app->n_functions; k++)
      if (!strcmp(app->functions[k].pattern, e->pattern)) {
        app->functions[k].from_ir = true; /* an entity: it takes Calls */
        declared = true;
      }
    if (declared || served_by(app, e->pattern)) continue;
    app->functions = xrealloc(app->functions,
                              (app->n_functions + 1) * sizeof *app->functions);
    sfm_function *f = &app->functions[app->n_functions++];
    f->pattern = xstrdup(e->pattern);
    f->where = xstrdup(e->where);
    f->from_ir = true;
  }
  if (app->entity_topics.value) {
    const char *w = app->entity_topics.where;
    for (size_t i = 0; i < app->n_ir_types; i++) {
      const char *type = app->ir_types[i].pattern;
      char topic[512];
      const char *slash = strchr(type, '/');
      snprintf(topic, sizeof topic, "%.*s.%s", (int)(slash - type), type,
               slash + 1);
      if (sfm_check_topic(w, topic) < 0) return -1;
      for (size_t k = 0; k < app->n_topics; k++)
        if (!strcmp(app->topics[k].topic, topic))
          return sfm_error(w, "conflicting options: topic '%s' is also "
                           "routed at %s; the entity topic carries only "
                           "%s", topic, app->topics[k].where, SFM_CALL_TYPE);
      sfm_topic *t = sfm_topic_get(app, topic, w);
      if (sfm_topic_set_value_type(t, SFM_CALL_TYPE, w) < 0 ||
          sfm_topic_add_target(t, type, w) < 0)
        return -1;
    }
  }
  if (!app->n_egresses && app->kafka.value) {
    for (size_t i = 0; i < app->n_ir_namespaces; i++) {
      char id[512];
      snprintf(id, sizeof id, "%s.io/replies", app->ir_namespaces[i]);
      if (sfm_check_typename("--ir", "egress id", id) < 0) return -1;
      sfm_egress *e = sfm_add_egress(app, id, "--ir");
      if (!e) return -1;
      e->replies = true;
    }
  }
  return 0;
}

int sfm_app_finish(sfm_app *app) {
  if (merge_ir(app) < 0) return -1;
  if (app->n_functions == 0)
    return sfm_error(NULL, "no function types: give --function NS/NAME, "
                     "--functions NS/*, --ir ENTITIES.json or --config FILE (see --help)");
  /* One URL serves them all, so a type under a wildcard of the same
   * namespace would be a second endpoint with the same URL. */
  for (size_t i = 0; i < app->n_functions; i++) {
    const char *p = app->functions[i].pattern;
    const char *slash = strchr(p, '/');
    if (!strcmp(slash + 1, "*")) continue;
    for (size_t j = 0; j < app->n_functions; j++) {
      const char *w = app->functions[j].pattern;
      if (j != i && !strncmp(w, p, (size_t)(slash - p) + 1) &&
          !strcmp(w + (slash - p) + 1, "*"))
        return sfm_error(app->functions[i].where,
                         "conflicting options: function type '%s' is already "
                         "covered by '%s' (at %s)",
                         p, w, app->functions[j].where);
    }
  }
  if (app->endpoint.value && app->url_template.value) {
    const char *w = from_file(app->url_template.where) ? app->url_template.where
                                                       : app->endpoint.where;
    return sfm_error(w, "conflicting options: --endpoint and --url-template "
                     "both given; use one");
  }
  if (!app->endpoint.value && !app->url_template.value)
    return sfm_error(NULL, "no endpoint: give --endpoint URL or --url-template "
                     "'http://HOST:8000/statefun/{function.name}'");

  /* Ingress. */
  if (app->n_topics && !app->kafka.value)
    return sfm_error(app->topics[0].where, "ingress topic '%s' needs the "
                     "Kafka address: give --kafka HOST:PORT",
                     app->topics[0].topic);
  if (app->n_egresses && !app->kafka.value)
    return sfm_error(app->egresses[0].where, "egress '%s' needs the Kafka "
                     "address: give --kafka HOST:PORT", app->egresses[0].id);
  if (!app->n_topics) {
    const sfm_setting *need[] = {&app->ingress_id, &app->consumer_group,
                                 &app->startup};
    const char *names[] = {"--ingress-id", "--consumer-group",
                           "--startup-position"};
    for (int i = 0; i < 3; i++)
      if (need[i]->value)
        return sfm_error(need[i]->where, "conflicting options: %s without "
                         "any --ingress-topic", names[i]);
    if (app->value_type.value && !from_file(app->value_type.where))
      return sfm_error(app->value_type.where, "conflicting options: "
                       "--value-type without any --ingress-topic");
  }
  if (app->kafka.value && !app->n_topics && !app->n_egresses)
    return sfm_error(app->kafka.where, "a Kafka address is given, but no "
                     "ingress topic and no egress use it");
  for (size_t i = 0; i < app->n_topics; i++) {
    sfm_topic *t = &app->topics[i];
    if (t->all_functions) {
      /* A shared topic feeds every concrete function type. */
      for (size_t f = 0; f < app->n_functions; f++) {
        const char *p = app->functions[f].pattern;
        if (strcmp(strchr(p, '/') + 1, "*") == 0) continue;
        if (app->functions[f].from_ir) continue; /* entities take Calls */
        bool have = false;
        for (size_t k = 0; k < t->n_targets; k++)
          have |= !strcmp(t->targets[k].type, p);
        if (!have && sfm_topic_add_target(t, p, t->where) < 0) return -1;
      }
    }
    if (t->n_targets == 0)
      return sfm_error(t->where, "ingress topic '%s' has no targets: give "
                       "TOPIC=NS/NAME[,NS/NAME...] or declare function "
                       "types with --function", t->topic);
    for (size_t k = 0; k < t->n_targets; k++)
      if (!served_by(app, t->targets[k].type))
        return sfm_error(t->targets[k].where, "ingress topic '%s' targets "
                         "'%s', which no --function or --functions declares",
                         t->topic, t->targets[k].type);
  }
  /* Egress options. */
  for (size_t i = 0; i < app->n_egresses; i++) {
    sfm_egress *e = &app->egresses[i];
    if (e->txn_timeout && e->delivery != SFM_EXACTLY_ONCE)
      return sfm_error(e->txn_where, "conflicting options: a transaction "
                       "timeout needs delivery exactly-once (egress '%s')",
                       e->id);
  }
  return 0;
}

static void setting_free(sfm_setting *s) {
  free(s->value);
  free(s->where);
}

void sfm_app_free(sfm_app *app) {
  for (size_t i = 0; i < app->n_functions; i++) {
    free(app->functions[i].pattern);
    free(app->functions[i].where);
  }
  free(app->functions);
  for (size_t i = 0; i < app->n_ir_types; i++) {
    free(app->ir_types[i].pattern);
    free(app->ir_types[i].where);
  }
  free(app->ir_types);
  for (size_t i = 0; i < app->n_ir_namespaces; i++)
    free(app->ir_namespaces[i]);
  free(app->ir_namespaces);
  setting_free(&app->entity_topics);
  sfm_setting *settings[] = {&app->endpoint,     &app->url_template,
                             &app->max_batch,    &app->call_timeout,
                             &app->connect_timeout, &app->kafka,
                             &app->ingress_id,   &app->consumer_group,
                             &app->startup,      &app->value_type};
  for (size_t i = 0; i < sizeof settings / sizeof *settings; i++)
    setting_free(settings[i]);
  for (size_t i = 0; i < app->n_topics; i++) {
    sfm_topic *t = &app->topics[i];
    free(t->topic);
    free(t->value_type);
    free(t->where);
    for (size_t k = 0; k < t->n_targets; k++) {
      free(t->targets[k].type);
      free(t->targets[k].where);
    }
    free(t->targets);
  }
  free(app->topics);
  for (size_t i = 0; i < app->n_egresses; i++) {
    sfm_egress *e = &app->egresses[i];
    free(e->id);
    free(e->where);
    for (size_t k = 0; k < e->n_topics; k++) free(e->topics[k]);
    free(e->topics);
    free(e->txn_timeout);
    free(e->txn_where);
  }
  free(app->egresses);
  free(app->provenance);
  memset(app, 0, sizeof *app);
}
