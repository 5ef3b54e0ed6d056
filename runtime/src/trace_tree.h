/*
 * trace_tree.h - sf-local's --trace mode (trace_tree.c): one request's
 * spans, read from OTLP/JSON lines, as a tree, a DOT graph or an SVG.
 */
#ifndef SFL_TRACE_TREE_H
#define SFL_TRACE_TREE_H

#include <stdbool.h>

/* `sf-local --trace ID --trace-in FILE... [--dot | --svg OUT]`: the exit
 * status (0, 1 no such trace or a file error, 2 bad usage). */
int sfl_trace_main(int argc, char **argv);

#endif /* SFL_TRACE_TREE_H */
