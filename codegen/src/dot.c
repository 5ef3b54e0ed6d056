/*
 * dot.c - the IR as a Graphviz digraph.
 *
 * Two views in one graph. The cluster "calls" has a box per entity and an
 * edge per await from the awaiting entity to the called one, labelled with
 * both method names. Then one cluster per method that awaits: how its body
 * runs through its awaits. The IR only lists the awaits; the order, the
 * branches and the loops are in the C body, so with --src (flow.h) the
 * cluster is the body's control flow: start, each await, the conditions
 * that decide between them (diamonds, edges "yes"/"no"), loops as cycles,
 * each SF_FAIL and the return; an SF_AWAIT's failure path (the callee
 * failed, so does this method) is dashed. Without a source for a method,
 * its cluster shows the awaits alone, unconnected, and says so: the IR's
 * declaration order is not the order the code runs them in. Every name in
 * an IR is an identifier; texts from the source are escaped.
 */
#include "dot.h"

#include <string.h>

/* Node ids: "E.m/start", "E.m/await/<label>", "E.m/return" (a label may be
 * called "start"; it cannot clash). `label` NULL: `what` is start/return. */
static void method_node(FILE *out, const sfc_entity *e, const sfc_method *m,
                        const char *what, const char *label) {
  if (label) fprintf(out, "\"%s.%s/await/%s\"", e->name, m->name, label);
  else fprintf(out, "\"%s.%s/%s\"", e->name, m->name, what);
}

/* A text from the source in a DOT string: quotes and backslashes escaped,
 * cut at 48 characters. */
static void dot_text(FILE *out, const char *s) {
  size_t n = 0;
  for (; *s && n < 48; s++, n++) {
    if (*s == '"' || *s == '\\') fputc('\\', out);
    fputc(*s, out);
  }
  if (*s) fputs("...", out);
}

static const sfc_await *ir_await(const sfc_method *m, const char *label) {
  for (size_t k = 0; k < m->n_awaits; k++)
    if (!strcmp(m->awaits[k].label, label)) return &m->awaits[k];
  return NULL;
}

/* The id of flow node `v`: start, return and awaits as in method_node;
 * "E.m/await/<label>#2" for a label's second SF_AWAIT; "E.m/if/<k>",
 * "E.m/fail/<k>" (k: the node's index) and "E.m/fail/callee". */
static void flow_node_id(FILE *out, const sfc_entity *e, const sfc_method *m,
                         const sfc_flow_method *f, size_t v) {
  const sfc_flow_node *n = &f->nodes[v];
  switch (n->kind) {
    case SFC_FLOW_START: method_node(out, e, m, "start", NULL); return;
    case SFC_FLOW_RETURN: method_node(out, e, m, "return", NULL); return;
    case SFC_FLOW_CALLEE_FAILED:
      fprintf(out, "\"%s.%s/fail/callee\"", e->name, m->name);
      return;
    case SFC_FLOW_AWAIT:
    case SFC_FLOW_CALL: {
      size_t seen = 0;
      for (size_t k = 0; k < v; k++)
        if (f->nodes[k].kind == n->kind && !strcmp(f->nodes[k].text, n->text))
          seen++;
      fprintf(out, "\"%s.%s/%s/", e->name, m->name,
              n->kind == SFC_FLOW_CALL ? "call" : "await");
      dot_text(out, n->text);
      if (seen) fprintf(out, "#%zu", seen + 1);
      fputc('"', out);
      return;
    }
    case SFC_FLOW_COND:
      fprintf(out, "\"%s.%s/if/%zu\"", e->name, m->name, v);
      return;
    case SFC_FLOW_FAIL:
      fprintf(out, "\"%s.%s/fail/%zu\"", e->name, m->name, v);
      return;
  }
}

static void flow_node(FILE *out, const sfc_entity *e, const sfc_method *m,
                      const sfc_flow_method *f, size_t v) {
  const sfc_flow_node *n = &f->nodes[v];
  fprintf(out, "    ");
  flow_node_id(out, e, m, f, v);
  switch (n->kind) {
    case SFC_FLOW_START:
      fprintf(out, " [label=\"start\", shape=circle];\n");
      return;
    case SFC_FLOW_RETURN:
      fprintf(out, " [label=\"return %s\", shape=doublecircle];\n",
              m->result->text);
      return;
    case SFC_FLOW_CALLEE_FAILED:
      fprintf(out, " [label=\"fail: the callee's error\", shape=octagon];\n");
      return;
    case SFC_FLOW_AWAIT:
    case SFC_FLOW_CALL: {
      const sfc_await *a = ir_await(m, n->text);
      if (a == NULL)
        fprintf(stderr,
                "%s:%d:%d: warning: await label '%s' is not an await of %s.%s "
                "in the IR\n",
                f->path, n->line, n->col, n->text, e->name, m->name);
      fprintf(out, " [label=\"%s", n->kind == SFC_FLOW_CALL ? "call " : "");
      if (n->joins) fprintf(out, "wait for the calls\\nresume at ");
      dot_text(out, n->text);
      if (!n->joins)
        fprintf(out, "\\n%s", a ? a->target_text : "(not in the IR)");
      fprintf(out, "%s\", shape=box, style=\"rounded%s%s\"];\n",
              n->catches ? "\\n(catches failure)" : "",
              n->catches ? ",bold" : "",
              n->kind == SFC_FLOW_CALL ? ",dashed" : "");
      return;
    }
    case SFC_FLOW_COND:
      fprintf(out, " [label=\"");
      dot_text(out, n->text);
      fprintf(out, "\", shape=diamond];\n");
      return;
    case SFC_FLOW_FAIL:
      fprintf(out, " [label=\"fail: ");
      dot_text(out, n->text);
      fprintf(out, "\", shape=octagon];\n");
      return;
  }
}

/* A method's cluster from its body's control flow. */
static void flow_cluster(FILE *out, const sfc_entity *e, const sfc_method *m,
                         const sfc_flow_method *f) {
  for (size_t v = 0; v < f->n_nodes; v++) {
    bool used = v == 0;
    for (size_t k = 0; k < f->n_edges && !used; k++)
      used = !f->edges[k].dead &&
             (f->edges[k].from == v || f->edges[k].to == v);
    if (!f->nodes[v].dead && used) flow_node(out, e, m, f, v);
  }
  for (size_t k = 0; k < f->n_edges; k++) {
    const sfc_flow_edge *g = &f->edges[k];
    if (g->dead) continue;
    fprintf(out, "    ");
    flow_node_id(out, e, m, f, g->from);
    fprintf(out, " -> ");
    flow_node_id(out, e, m, f, g->to);
    if (g->label || g->dashed) {
      fprintf(out, " [");
      if (g->label) {
        fprintf(out, "label=\"");
        dot_text(out, g->label);
        fprintf(out, "\"%s", g->dashed ? ", " : "");
      }
      if (g->dashed) fprintf(out, "style=dashed");
      fprintf(out, "]");
    }
    fprintf(out, ";\n");
  }
}

/* A method's cluster without its body: the awaits, unordered. */
static void awaits_only(FILE *out, const sfc_entity *e, const sfc_method *m) {
  for (size_t k = 0; k < m->n_awaits; k++) {
    fprintf(out, "    ");
    method_node(out, e, m, "await", m->awaits[k].label);
    fprintf(out, " [label=\"%s\\n%s\", shape=box, style=rounded];\n",
            m->awaits[k].label, m->awaits[k].target_text);
  }
}

int sfc_dot_write(const sfc_ir *ir, const sfc_flow *flow, FILE *out) {
  fprintf(out, "// sf-codegen --dot %s\n", ir->path ? ir->path : "");
  fprintf(out, "digraph \"%s\" {\n", ir->namespace_);
  fprintf(out,
          "  graph [fontname=\"Helvetica\", rankdir=LR];\n"
          "  node [fontname=\"Helvetica\"];\n"
          "  edge [fontname=\"Helvetica\", fontsize=10];\n");
  fprintf(out,
          "  subgraph cluster_calls {\n"
          "    label=\"%s: entity calls\";\n",
          ir->namespace_);
  for (size_t i = 0; i < ir->n_entities; i++) {
    const sfc_entity *e = &ir->entities[i];
    fprintf(out,
            "    \"%s\" [shape=box, label=\"%s\\n%zu state, %zu methods\"];\n",
            e->name, e->name, e->n_state, e->n_methods);
  }
  for (size_t i = 0; i < ir->n_entities; i++) {
    const sfc_entity *e = &ir->entities[i];
    for (size_t j = 0; j < e->n_methods; j++) {
      const sfc_method *m = &e->methods[j];
      for (size_t k = 0; k < m->n_awaits; k++)
        fprintf(out, "    \"%s\" -> \"%s\" [label=\"%s: %s\"];\n", e->name,
                m->awaits[k].entity->name, m->name, m->awaits[k].method->name);
    }
  }
  fprintf(out, "  }\n");
  for (size_t i = 0; i < ir->n_entities; i++) {
    const sfc_entity *e = &ir->entities[i];
    for (size_t j = 0; j < e->n_methods; j++) {
      const sfc_method *m = &e->methods[j];
      if (!m->n_awaits) continue;
      const sfc_flow_method *f = flow ? sfc_flow_find(flow, e->name, m->name)
                                      : NULL;
      fprintf(out, "  subgraph \"cluster_%s.%s\" {\n", e->name, m->name);
      if (f) {
        fprintf(out, "    label=\"%s.%s (", e->name, m->name);
        dot_text(out, f->path);
        fprintf(out, ":%d)\";\n", f->line);
        flow_cluster(out, e, m, f);
      } else {
        fprintf(out,
                "    label=\"%s.%s: its awaits (the order is in the C body: "
                "--src FILE)\";\n",
                e->name, m->name);
        awaits_only(out, e, m);
        if (flow && flow->n_methods)
          fprintf(stderr,
                  "sf-codegen: warning: no SF_METHOD(%s, %s) in the --src "
                  "files: its "
                  "awaits are drawn without control flow\n",
                  e->name, m->name);
      }
      fprintf(out, "  }\n");
    }
  }
  fprintf(out, "}\n");
  return ferror(out) ? -1 : 0;
}
