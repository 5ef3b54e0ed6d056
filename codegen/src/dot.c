/*
 * dot.c - the IR as a Graphviz digraph.
 *
 * Two views in one graph. The cluster "calls" has a box per entity and an
 * edge per await from the awaiting entity to the called one, labelled with
 * both method names. Then one cluster per method that awaits: its
 * continuation graph, start -> await -> ... -> return, the awaits in
 * declaration order (the IR does not know the body's loops and branches;
 * the labels are the points where the method may suspend and resume).
 * Every name in an IR is an identifier, so the only quoting needed is the
 * surrounding quotes.
 */
#include "dot.h"

/* Node ids: "E.m/start", "E.m/await/<label>", "E.m/return" (a label may be
 * called "start"; it cannot clash). `label` NULL: `what` is start/return. */
static void method_node(FILE *out, const sfc_entity *e, const sfc_method *m,
                        const char *what, const char *label) {
  if (label)
    fprintf(out, "\"%s.%s/await/%s\"", e->name, m->name, label);
  else
    fprintf(out, "\"%s.%s/%s\"", e->name, m->name, what);
}

int sfc_dot_write(const sfc_ir *ir, FILE *out) {
  fprintf(out, "// sf-codegen --dot %s\n", ir->path ? ir->path : "");
  fprintf(out, "digraph \"%s\" {\n", ir->namespace_);
  fprintf(out, "  graph [fontname=\"Helvetica\", rankdir=LR];\n"
               "  node [fontname=\"Helvetica\"];\n"
               "  edge [fontname=\"Helvetica\", fontsize=10];\n");
  fprintf(out, "  subgraph cluster_calls {\n"
               "    label=\"%s: entity calls\";\n",
          ir->namespace_);
  for (size_t i = 0; i < ir->n_entities; i++) {
    const sfc_entity *e = &ir->entities[i];
    fprintf(out, "    \"%s\" [shape=box, label=\"%s\\n%zu state, %zu methods\"];\n",
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
      fprintf(out, "  subgraph \"cluster_%s.%s\" {\n", e->name, m->name);
      fprintf(out, "    label=\"%s.%s\";\n", e->name, m->name);
      fprintf(out, "    ");
      method_node(out, e, m, "start", NULL);
      fprintf(out, " [label=\"start\", shape=circle];\n");
      for (size_t k = 0; k < m->n_awaits; k++) {
        fprintf(out, "    ");
        method_node(out, e, m, "await", m->awaits[k].label);
        fprintf(out, " [label=\"%s\\n%s\", shape=box, style=rounded];\n",
                m->awaits[k].label, m->awaits[k].target_text);
      }
      fprintf(out, "    ");
      method_node(out, e, m, "return", NULL);
      fprintf(out, " [label=\"return %s\", shape=doublecircle];\n",
              m->result->text);
      for (size_t k = 0; k <= m->n_awaits; k++) {
        fprintf(out, "    ");
        method_node(out, e, m, "start", k ? m->awaits[k - 1].label : NULL);
        fprintf(out, " -> ");
        method_node(out, e, m, "return",
                    k < m->n_awaits ? m->awaits[k].label : NULL);
        fprintf(out, ";\n");
      }
      fprintf(out, "  }\n");
    }
  }
  fprintf(out, "}\n");
  return ferror(out) ? -1 : 0;
}
