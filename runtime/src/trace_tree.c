/*
 * trace_tree.c - `sf-local --trace <trace-id> --trace-in FILE...`: one
 * request's path read back from OTLP/JSON span lines (docs/tracing.md,
 * what the function server's and sf-local's --trace-out write) and shown
 * as a tree (each span under its parent, siblings in start order, times
 * relative to the first span), or with --dot as a Graphviz graph, or with
 * --svg FILE rendered by `dot` when Graphviz is installed.
 */
#include "trace_tree.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

typedef struct span {
  char id[17], parent[17];
  char *name, *detail; /* detail: key, ok/error */
  uint64_t start, end;
  bool error;
  size_t parent_ix; /* SIZE_MAX: a root */
} span;

typedef struct spans {
  span *v;
  size_t n, cap;
} spans;

static const char *attr(json_t *sp, const char *key) {
  size_t i;
  json_t *a;
  json_array_foreach(json_object_get(sp, "attributes"), i, a) {
    const char *k = json_string_value(json_object_get(a, "key"));
    if (k != NULL && strcmp(k, key) == 0)
      return json_string_value(json_object_get(json_object_get(a, "value"), "stringValue"));
  }
  return NULL;
}

static uint64_t nanos(json_t *v) {
  const char *s = json_string_value(v);
  return s != NULL ? strtoull(s, NULL, 10) : (uint64_t)json_integer_value(v);
}

/* Adds the spans of `trace` in one ExportTraceServiceRequest. */
static int add_request(spans *out, json_t *req, const char *trace) {
  size_t i, j, k;
  json_t *rs, *ss, *sp;
  json_array_foreach(json_object_get(req, "resourceSpans"), i, rs)
  json_array_foreach(json_object_get(rs, "scopeSpans"), j, ss)
  json_array_foreach(json_object_get(ss, "spans"), k, sp) {
    const char *t = json_string_value(json_object_get(sp, "traceId"));
    if (t == NULL || strcmp(t, trace) != 0) continue;
    if (out->n == out->cap) {
      size_t nc = out->cap ? 2 * out->cap : 64;
      span *nv = realloc(out->v, nc * sizeof *nv);
      if (nv == NULL) return -1;
      out->v = nv;
      out->cap = nc;
    }
    span *s = &out->v[out->n++];
    memset(s, 0, sizeof *s);
    const char *id = json_string_value(json_object_get(sp, "spanId"));
    const char *par = json_string_value(json_object_get(sp, "parentSpanId"));
    snprintf(s->id, sizeof s->id, "%s", id ? id : "");
    snprintf(s->parent, sizeof s->parent, "%s", par ? par : "");
    const char *name = json_string_value(json_object_get(sp, "name"));
    s->name = strdup(name ? name : "?");
    const char *key = attr(sp, "statefun.key");
    const char *ok = attr(sp, "statefun.ok");
    const char *err = attr(sp, "statefun.error");
    char d[512];
    snprintf(d, sizeof d, "%s%s%s%s%s%s", key ? "[" : "", key ? key : "", key ? "]" : "",
             ok ? (strcmp(ok, "true") == 0 ? "ok" : "failed") : "",
             err && err[0] ? ": " : "", err ? err : "");
    s->detail = strdup(d);
    s->start = nanos(json_object_get(sp, "startTimeUnixNano"));
    s->end = nanos(json_object_get(sp, "endTimeUnixNano"));
    json_t *st = json_object_get(sp, "status");
    s->error = json_integer_value(json_object_get(st, "code")) == 2;
    if (s->name == NULL || s->detail == NULL) return -1;
  }
  return 0;
}

static int read_file(spans *out, const char *path, const char *trace) {
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
  if (f == NULL) {
    fprintf(stderr, "sf-local: --trace-in %s: %s\n", path, strerror(errno));
    return -1;
  }
  char *line = NULL;
  size_t cap = 0;
  long no = 0;
  int rc = 0;
  while (rc == 0 && getline(&line, &cap, f) >= 0) {
    no++;
    if (line[strspn(line, " \t\r\n")] == '\0') continue;
    json_error_t je;
    json_t *req = json_loads(line, 0, &je);
    if (req == NULL) {
      fprintf(stderr, "%s:%ld:%d: not a JSON line: %s\n", path, no, je.column, je.text);
      continue; /* a torn last line of a live file: the rest still shows */
    }
    rc = add_request(out, req, trace);
    json_decref(req);
  }
  free(line);
  if (f != stdin) fclose(f);
  return rc;
}

/* Start order; equal starts (one clock reading ends a span and starts
 * the next) by end, then name, so that the tree prints the same each time. */
static int by_start(const void *a, const void *b) {
  const span *x = a, *y = b;
  if (x->start != y->start) return x->start < y->start ? -1 : 1;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return strcmp(x->name, y->name);
}

/* Sorts by start and links each span to its parent in the set. */
static void link_spans(spans *s) {
  qsort(s->v, s->n, sizeof *s->v, by_start);
  for (size_t i = 0; i < s->n; i++) {
    s->v[i].parent_ix = SIZE_MAX;
    for (size_t k = 0; k < s->n && s->v[i].parent[0]; k++)
      if (k != i && strcmp(s->v[k].id, s->v[i].parent) == 0) s->v[i].parent_ix = k;
  }
}

static void print_node(FILE *out, const spans *s, size_t i, uint64_t t0, char *prefix,
                       size_t plen, bool last, bool root, int depth) {
  const span *x = &s->v[i];
  fprintf(out, "%s%s%s%s%s  +%.3f ms (%.3f ms)%s\n", prefix,
          root ? "" : (last ? "`- " : "|- "), x->name, x->detail[0] ? " " : "", x->detail,
          (double)(x->start - t0) / 1e6, (double)(x->end - x->start) / 1e6,
          x->error ? "  ERROR" : "");
  if (depth > 64) return; /* a cycle of hand-written ids */
  size_t n = strlen(prefix);
  if (!root && n + 4 < plen) strcat(prefix, last ? "   " : "|  ");
  size_t lastk = SIZE_MAX;
  for (size_t k = 0; k < s->n; k++)
    if (s->v[k].parent_ix == i) lastk = k;
  for (size_t k = 0; k < s->n; k++)
    if (s->v[k].parent_ix == i)
      print_node(out, s, k, t0, prefix, plen, k == lastk, false, depth + 1);
  prefix[n] = '\0';
}

static void print_tree(FILE *out, const spans *s, const char *trace) {
  uint64_t t0 = s->n ? s->v[0].start : 0;
  fprintf(out, "trace %s (%zu spans)\n", trace, s->n);
  char prefix[512] = "";
  for (size_t i = 0; i < s->n; i++)
    if (s->v[i].parent_ix == SIZE_MAX)
      print_node(out, s, i, t0, prefix, sizeof prefix, true, true, 0);
}

static void dot_escaped(FILE *out, const char *t) {
  for (; *t; t++) {
    if (*t == '"' || *t == '\\') fputc('\\', out);
    fputc(*t, out);
  }
}

static void print_dot(FILE *out, const spans *s, const char *trace) {
  uint64_t t0 = s->n ? s->v[0].start : 0;
  fprintf(out, "digraph \"trace %s\" {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n", trace);
  for (size_t i = 0; i < s->n; i++) {
    const span *x = &s->v[i];
    fprintf(out, "  \"%s\" [label=\"%zu. ", x->id, i + 1);
    dot_escaped(out, x->name);
    fputs("\\n", out);
    dot_escaped(out, x->detail);
    fprintf(out, "\\n+%.3f ms\"%s];\n", (double)(x->start - t0) / 1e6,
            x->error ? ", color=red" : "");
  }
  for (size_t i = 0; i < s->n; i++)
    if (s->v[i].parent_ix != SIZE_MAX)
      fprintf(out, "  \"%s\" -> \"%s\";\n", s->v[s->v[i].parent_ix].id, s->v[i].id);
  fputs("}\n", out);
}

/* Renders the DOT graph with Graphviz's `dot` into `svg`. */
static int write_svg(const spans *s, const char *trace, const char *svg) {
  char cmd[4200];
  if (strchr(svg, '\'') != NULL) {
    fprintf(stderr, "sf-local: --svg %s: a quote in the file name\n", svg);
    return 2;
  }
  if (system("command -v dot >/dev/null 2>&1") != 0) {
    fprintf(stderr, "sf-local: --svg: Graphviz's `dot` is not installed; --dot prints "
            "the graph to render elsewhere\n");
    return 1;
  }
  signal(SIGPIPE, SIG_IGN); /* a dot that dies early: an exit status, not a kill */
  snprintf(cmd, sizeof cmd, "dot -Tsvg -o '%s'", svg);
  FILE *p = popen(cmd, "w");
  if (p == NULL) {
    fprintf(stderr, "sf-local: --svg: cannot run dot: %s\n", strerror(errno));
    return 1;
  }
  print_dot(p, s, trace);
  int st = pclose(p);
  if (st != 0) {
    fprintf(stderr, "sf-local: --svg: `dot` failed (status %d); is Graphviz installed? "
            "--dot prints the graph for another machine\n", st);
    return 1;
  }
  return 0;
}

static bool trace_id_ok(const char *t) {
  return strlen(t) == 32 && strspn(t, "0123456789abcdef") == 32;
}

int sfl_trace_main(int argc, char **argv) {
  const char *trace = NULL, *svg = NULL;
  const char **in = calloc((size_t)argc, sizeof *in);
  size_t n_in = 0;
  bool dot = false;
  if (in == NULL) return 1;
  int rc = 0;
  for (int i = 1; i < argc && rc == 0; i++) {
    const char *a = argv[i];
    bool more = i + 1 < argc;
    if (strcmp(a, "--trace") == 0 && more) trace = argv[++i];
    else if (strcmp(a, "--trace-in") == 0 && more) in[n_in++] = argv[++i];
    else if (strcmp(a, "--svg") == 0 && more) svg = argv[++i];
    else if (strcmp(a, "--dot") == 0) dot = true;
    else {
      fprintf(stderr, "sf-local: --trace: unknown or incomplete option '%s'\n"
              "usage: sf-local --trace TRACE-ID --trace-in FILE... [--dot | --svg OUT.svg]\n", a);
      rc = 2;
    }
  }
  if (rc == 0 && (trace == NULL || !trace_id_ok(trace) || n_in == 0)) {
    fprintf(stderr, "sf-local: --trace needs a trace id (32 lower-case hex digits, the "
            "traceparent's second field) and at least one --trace-in FILE\n");
    rc = 2;
  }
  spans s = {0};
  for (size_t i = 0; rc == 0 && i < n_in; i++)
    if (read_file(&s, in[i], trace) != 0) rc = 1;
  if (rc == 0 && s.n == 0) {
    fprintf(stderr, "sf-local: trace %s: no span in the --trace-in files\n", trace);
    rc = 1;
  }
  if (rc == 0) {
    link_spans(&s);
    if (svg != NULL) rc = write_svg(&s, trace, svg);
    else if (dot) print_dot(stdout, &s, trace);
    else print_tree(stdout, &s, trace);
  }
  for (size_t i = 0; i < s.n; i++) {
    free(s.v[i].name);
    free(s.v[i].detail);
  }
  free(s.v);
  free(in);
  return rc;
}
