/*
 * gen.h - sf-codegen's C generator: an entity IR (ir.h) in, one header and
 * one source out (docs/codegen.md describes the generated API).
 */
#ifndef SFC_GEN_H
#define SFC_GEN_H

#include <stddef.h>

#include "ir.h"

/* Result codes, the CLI's exit codes. */
enum { SFC_GEN_OK = 0, SFC_GEN_IO = 1, SFC_GEN_INVALID = 2 };

/*
 * The base name of the generated files for an IR path: the file name
 * without ".ir.json" (or ".json"), every other character than [A-Za-z0-9_]
 * replaced by '_' and a '_' prepended when it starts with a digit (CMake's
 * string(MAKE_C_IDENTIFIER)). "examples/shop.ir.json" -> "shop".
 */
void sfc_gen_base(const char *path, char *out, size_t out_len);

/*
 * Generates the text of <base>.h and <base>.c (malloc'd, NUL-terminated;
 * the caller frees them). `source` is the IR path named in the files'
 * opening comment. Returns SFC_GEN_OK, or SFC_GEN_INVALID with one
 * "file:line:col: message" in err when the IR cannot be generated (a
 * generated C name clashes), or SFC_GEN_IO when out of memory.
 */
int sfc_gen_text(const sfc_ir *ir, const char *source, const char *base,
                 char **header, size_t *header_len, char **source_text,
                 size_t *source_len, char *err, size_t err_len);

/*
 * Writes DIR/<base>.h and DIR/<base>.c (base from sfc_gen_base(ir->path)),
 * creating DIR if it does not exist (not its parents). Their banner names
 * ir->path, an absolute one relative to the current directory when inside
 * it, else by its file name: never an absolute path. Each file goes to
 * FILE.tmp and is renamed into place once both are written, so a failure
 * leaves no half-written file; a file whose content is unchanged is not
 * rewritten (its timestamp stays, builds stay incremental). Messages go to
 * stderr; returns SFC_GEN_OK, SFC_GEN_IO or SFC_GEN_INVALID.
 */
int sfc_gen_write(const sfc_ir *ir, const char *dir);

#endif
