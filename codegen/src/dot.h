/*
 * dot.h - an IR as a Graphviz graph (sf-codegen --dot).
 */
#ifndef SFC_DOT_H
#define SFC_DOT_H

#include <stdio.h>

#include "flow.h"
#include "ir.h"

/* Writes the DOT text of `ir` to `out`: the entity call graph (one edge
 * Caller -> Callee per await, labelled "method: called_method") and, per
 * method that awaits, a cluster with the control flow of its body as
 * `flow` (may be NULL) read it from the C source, or its awaits alone when
 * no source defines it. Returns 0, or -1 when writing fails. */
int sfc_dot_write(const sfc_ir *ir, const sfc_flow *flow, FILE *out);

#endif
