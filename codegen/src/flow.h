/*
 * flow.h - the control flow of entity method bodies, read from their C
 * source (sf-codegen --dot --src FILE).
 *
 * The IR lists a method's awaits but not the order the body runs them in:
 * that is in the C body, between SF_BEGIN and SF_END. flow.c scans each
 * SF_METHOD(Entity, method) { ... } of a source file with a small tolerant
 * C scanner (comments, literals and preprocessor lines skipped; if/else,
 * for, while, do, switch, break, continue, the SF_AWAIT*, SF_CALL*,
 * SF_FAIL and SF_RETURN* macros understood; every other statement is straight-line
 * code) and builds a graph whose nodes are the points that matter:
 * start, each await, the conditions that choose between them, each
 * SF_FAIL and the return. Conditions that choose nothing (both ways lead
 * to the same node) are dropped, so the picture keeps only decisions
 * about awaits and exits.
 */
#ifndef SFC_FLOW_H
#define SFC_FLOW_H

#include <stdbool.h>
#include <stddef.h>

typedef enum sfc_flow_kind {
  SFC_FLOW_START,
  SFC_FLOW_RETURN,
  SFC_FLOW_CALLEE_FAILED, /* an SF_AWAIT whose callee failed */
  SFC_FLOW_AWAIT, /* SF_AWAIT*, and SF_AWAIT_CALLS* (join: joins true) */
  SFC_FLOW_CALL,  /* SF_CALL, SF_CALL_AT: a call made without waiting */
  SFC_FLOW_COND,  /* if / loop / switch condition, or a join */
  SFC_FLOW_FAIL,  /* an SF_FAIL */
} sfc_flow_kind;

typedef struct sfc_flow_node {
  sfc_flow_kind kind;
  char *text;   /* await: the label; cond: "while F->i < n"; fail: reason */
  bool catches; /* an await that carries on when the callee fails */
  bool joins;   /* an await of every call made since the last one */
  bool dead;    /* dropped by the simplification */
  int line, col;
} sfc_flow_node;

typedef struct sfc_flow_edge {
  size_t from, to;
  char *label; /* "yes", "no", "break", ... or NULL */
  bool dashed; /* the failure path of an SF_AWAIT */
  bool dead;
} sfc_flow_edge;

/* One SF_METHOD body. Nodes 0, 1, 2 are start, return and callee-failed
 * (always there; drawn only when an edge reaches them). */
typedef struct sfc_flow_method {
  char *entity, *method;
  char *path;
  int line;
  sfc_flow_node *nodes;
  size_t n_nodes, cap_nodes;
  sfc_flow_edge *edges;
  size_t n_edges, cap_edges;
} sfc_flow_method;

typedef struct sfc_flow {
  sfc_flow_method *methods;
  size_t n_methods;
} sfc_flow;

/* Scans `path` and appends one entry per SF_METHOD definition in it.
 * Returns 0, or -1 with "path: why" in err (unreadable file: "path:
 * cannot read: <strerror>", out of memory). Unbalanced or unusual code never fails: it is read as
 * straight-line code. */
int sfc_flow_scan(const char *path, sfc_flow *flow, char *err, size_t errlen);

/* The body of Entity.method, or NULL when no scanned file defines it. */
const sfc_flow_method *sfc_flow_find(const sfc_flow *flow, const char *entity,
                                     const char *method);

void sfc_flow_free(sfc_flow *flow);

#endif
