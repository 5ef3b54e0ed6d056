/*
 * emit.c - prints an sfm_app as a StateFun 3.x multi-document module.yaml.
 *
 * Documents, in this order: one io.statefun.endpoints.v2/http per function
 * type or namespace (a v2 endpoint serves one pattern), one
 * io.statefun.kafka.v1/ingress with every routed topic, one
 * io.statefun.kafka.v1/egress per egress. Every setting the runtime would
 * default is written out anyway, so the file says what runs. The header
 * names the command that produced the file, so it can be regenerated.
 *
 * Values were checked on the way in (model.c) and use a small alphabet; a
 * value is still double-quoted whenever YAML could read it as something
 * other than a string (a number, a boolean, a flow collection).
 */
#include "modgen.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* True when `s` reads back as the same string in YAML 1.1 and 1.2 (SnakeYAML
 * in Flink, libyaml in sf-local, both YAML 1.1; and 1.2 readers) as a plain
 * scalar. */
static bool plain_ok(const char *s) {
  static const char *const words[] = {"y", "n", "yes", "no", "on", "off",
                                      "true", "false", "null", "nan", "inf",
                                      NULL};
  if (!*s) return false;
  for (const char *const *w = words; *w; w++)
    if (!strcasecmp(s, *w)) return false;
  /* A leading indicator would start something else (alias, tag, flow
   * collection, ...); inside the scalar only ": " and " #" matter, and we
   * refuse spaces and quotes outright. */
  if (strchr("-?:,[]{}#&*!|>%@`", s[0])) return false;
  for (const char *p = s; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\'' || c == '\\')
      return false;
    if (c == ':' && !p[1]) return false;
  }
  if (isalpha((unsigned char)s[0]) || s[0] == '/') return true;
  /* A number followed by a unit ("2m", "15min") is a string in both YAML
   * versions; a bare number or anything else starting with a digit is
   * quoted. */
  const char *p = s;
  while (isdigit((unsigned char)*p)) p++;
  if (p == s || !*p) return false;
  for (; *p; p++)
    if (!isalpha((unsigned char)*p)) return false;
  return true;
}

static void scalar(FILE *f, const char *s) {
  if (plain_ok(s)) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (const char *p = s; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c < 0x20 || c == 0x7f) fprintf(f, "\\x%02x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

static void kv(FILE *f, int indent, const char *key, const char *value) {
  fprintf(f, "%*s%s: ", indent, "", key);
  scalar(f, value);
  fputc('\n', f);
}

static const char *or_default(const sfm_setting *s, const char *def) {
  return s->value ? s->value : def;
}

static void endpoint(FILE *f, const sfm_app *app, const char *pattern) {
  fputs("kind: io.statefun.endpoints.v2/http\nspec:\n", f);
  kv(f, 2, "functions", pattern);
  kv(f, 2, "urlPathTemplate",
     app->url_template.value ? app->url_template.value : app->endpoint.value);
  fprintf(f, "  maxNumBatchRequests: %s\n",
          app->max_batch.value ? app->max_batch.value : "1000");
  fputs("  transport:\n", f);
  kv(f, 4, "type", "io.statefun.transports.v1/async");
  kv(f, 4, "call", or_default(&app->call_timeout, SFM_DEFAULT_CALL));
  kv(f, 4, "connect", or_default(&app->connect_timeout, SFM_DEFAULT_CONNECT));
}

static void ingress(FILE *f, const sfm_app *app) {
  char id[512];
  if (app->ingress_id.value) {
    snprintf(id, sizeof id, "%s", app->ingress_id.value);
  } else {
    const char *first = app->topics[0].targets[0].type;
    snprintf(id, sizeof id, "%.*s/ingress", (int)(strchr(first, '/') - first),
             first);
  }
  fputs("kind: io.statefun.kafka.v1/ingress\nspec:\n", f);
  kv(f, 2, "id", id);
  kv(f, 2, "address", app->kafka.value);
  kv(f, 2, "consumerGroupId",
     or_default(&app->consumer_group, SFM_DEFAULT_CONSUMER_GROUP));
  fputs("  startupPosition:\n", f);
  kv(f, 4, "type", or_default(&app->startup, SFM_DEFAULT_STARTUP));
  fputs("  topics:\n", f);
  for (size_t i = 0; i < app->n_topics; i++) {
    const sfm_topic *t = &app->topics[i];
    fputs("    - topic: ", f);
    scalar(f, t->topic);
    fputc('\n', f);
    kv(f, 6, "valueType",
       t->value_type ? t->value_type
                     : or_default(&app->value_type, SFM_DEFAULT_VALUE_TYPE));
    fputs("      targets:\n", f);
    for (size_t k = 0; k < t->n_targets; k++) {
      fputs("        - ", f);
      scalar(f, t->targets[k].type);
      fputc('\n', f);
    }
  }
}

static void egress(FILE *f, const sfm_app *app, const sfm_egress *e) {
  if (e->replies) {
    fprintf(f, "# The replies to calls from outside (%s with\n"
               "# reply_egress %s): a Kafka record per reply, key = the\n"
               "# call's request_id, value = the statefun.entities/Reply "
               "bytes, on the\n# call's reply_topic.\n", SFM_CALL_TYPE,
            e->id);
  }
  if (e->n_topics) {
    fputs("# The functions write to Kafka topic", f);
    fputs(e->n_topics > 1 ? "s" : "", f);
    for (size_t i = 0; i < e->n_topics; i++)
      fprintf(f, "%s %s", i ? "," : ":", e->topics[i]);
    fputs(" (they name the topic in each record).\n", f);
  }
  fputs("kind: io.statefun.kafka.v1/egress\nspec:\n", f);
  kv(f, 2, "id", e->id);
  kv(f, 2, "address", app->kafka.value);
  fputs("  deliverySemantic:\n", f);
  switch (e->delivery) {
  case SFM_EXACTLY_ONCE:
    kv(f, 4, "type", "exactly-once");
    kv(f, 4, "transactionTimeout",
       e->txn_timeout ? e->txn_timeout : SFM_DEFAULT_TXN_TIMEOUT);
    /* Flink's FlinkKafkaProducer starts a new transactional producer at
     * every checkpoint, on the task thread; its client sleeps
     * retry.backoff.ms (100 ms by default) before each retried
     * transactional request (Sender: Time.sleep), and the first
     * InitProducerId is always one. 1 ms shortens every checkpoint and so
     * the wait of read_committed readers (docs/run-on-flink.md, "Tuned for
     * latency", has the figures). */
    fputs("  properties:\n"
          "    # a new producer per checkpoint: its client sleeps this before\n"
          "    # each retried request; 1 ms, not 100 (docs/run-on-flink.md,\n"
          "    # Tuned for latency)\n"
          "    - retry.backoff.ms: \"1\"\n", f);
    break;
  case SFM_NONE:
    kv(f, 4, "type", "none");
    break;
  default:
    kv(f, 4, "type", "at-least-once");
    break;
  }
}

int sfm_emit(const sfm_app *app, FILE *f) {
  fputs("# Generated by sf-modgen; regenerate it rather than editing it:\n", f);
  fprintf(f, "#   %s\n", app->provenance ? app->provenance : "sf-modgen");
  bool first = true;
  for (size_t i = 0; i < app->n_functions; i++) {
    if (!first) fputs("---\n", f);
    first = false;
    endpoint(f, app, app->functions[i].pattern);
  }
  if (app->n_topics) {
    fputs("---\n", f);
    ingress(f, app);
  }
  for (size_t i = 0; i < app->n_egresses; i++) {
    fputs("---\n", f);
    egress(f, app, &app->egresses[i]);
  }
  return ferror(f) ? -1 : 0;
}
