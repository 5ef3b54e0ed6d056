/*
 * ir.h - the entity IR in memory: what sf-codegen reads from an IR file
 * (docs/entity-ir.md) and generates C from.
 *
 * Everything is owned by the sfc_ir (one allocation tree, freed by
 * sfc_ir_free). Every node remembers where it came from (line, col, 1-based)
 * so that later checks can report `file:line:col: message` too: a record,
 * entity, field or method's pos is where its "name" value is, an await's
 * where its "label" is, a type's where its type string is.
 */
#ifndef SFC_IR_H
#define SFC_IR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sfc_pos {
  int line;
  int col;
} sfc_pos;

typedef enum sfc_kind {
  SFC_BOOL,
  SFC_INT32,
  SFC_INT64,
  SFC_FLOAT,
  SFC_DOUBLE,
  SFC_STRING,
  SFC_BYTES,
  SFC_LIST,   /* elem */
  SFC_MAP,    /* string keys -> elem */
  SFC_REF,    /* reference to an entity: ref_entity */
  SFC_RECORD, /* a named record: record */
  SFC_VOID,   /* only as a method result: nothing */
} sfc_kind;

struct sfc_record;
struct sfc_entity;

/* A type expression: "int32", "list<string>", "map<ref<Item>>", "Line". */
typedef struct sfc_type {
  sfc_kind kind;
  struct sfc_type *elem;         /* SFC_LIST, SFC_MAP */
  struct sfc_entity *ref_entity; /* SFC_REF (resolved) */
  struct sfc_record *record;     /* SFC_RECORD (resolved) */
  char *text;                    /* as written, for messages */
  sfc_pos pos;
} sfc_type;

/* A named, typed slot: a record field, a state field, a parameter, a local. */
typedef struct sfc_field {
  char *name;
  sfc_type *type;
  char *default_json; /* state fields: the default as JSON text, or NULL */
  uint32_t number;    /* wire field number (1-based, declaration order) */
  sfc_pos pos;
  /* Added by ir.c (kept after the original members): */
  char *doc;           /* "doc", or NULL */
  sfc_pos default_pos; /* where "default" is (state fields that have one) */
} sfc_field;

typedef struct sfc_record {
  char *name;
  sfc_field *fields;
  size_t n_fields;
  sfc_pos pos;
  char *doc; /* "doc", or NULL */
} sfc_record;

/* One await point of a method: a stable label and the remote method it
 * calls ("Entity.method"). */
typedef struct sfc_await {
  char *label;
  char *target_text;            /* "Item.get_price" as written */
  struct sfc_entity *entity;    /* resolved */
  struct sfc_method *method;    /* resolved */
  uint32_t label_id;            /* stable: FNV-1a 32 of the label, never 0 */
  sfc_pos pos;
  sfc_pos call_pos; /* where "call" is */
  char *doc;        /* "doc", or NULL */
  /* "fan_out": the label takes any number of calls in one parallel await
   * (SF_CALL_AT); its result is a list, one element per call by index.
   * `results` is that list type (NULL for a void callee). */
  bool fan_out;
  struct sfc_type *results;
} sfc_await;

typedef struct sfc_method {
  char *name;
  sfc_field *params;
  size_t n_params;
  sfc_type *result; /* SFC_VOID when the method returns nothing */
  sfc_field *locals; /* variables that live across awaits */
  size_t n_locals;
  sfc_await *awaits;
  size_t n_awaits;
  bool read_only;
  bool reentrant;
  char *doc;
  sfc_pos pos;
} sfc_method;

typedef struct sfc_entity {
  char *name;
  sfc_field *state;
  size_t n_state;
  sfc_method *methods;
  size_t n_methods;
  char *doc;
  sfc_pos pos;
} sfc_entity;

typedef struct sfc_ir {
  char *path;      /* the IR file */
  char *namespace_;
  sfc_record *records;
  size_t n_records;
  sfc_entity *entities;
  size_t n_entities;
  char *doc;             /* top-level "doc", or NULL */
  sfc_pos namespace_pos; /* where "namespace" is */
} sfc_ir;

/*
 * Reads and checks an IR file. On success returns 0 and fills *out. On
 * failure returns -1 and writes ONE message "path:line:col: message" into
 * err (at most err_len bytes). All checks are done here: JSON syntax,
 * shape, names, types, duplicates, references, record cycles, awaits.
 */
int sfc_ir_load(const char *path, sfc_ir *out, char *err, size_t err_len);
/* The same from memory; `name` stands for the path in messages. */
int sfc_ir_parse(const char *name, const char *text, size_t len, sfc_ir *out,
                 char *err, size_t err_len);
void sfc_ir_free(sfc_ir *ir);

/* Lookups (NULL when absent). */
const sfc_entity *sfc_ir_entity(const sfc_ir *ir, const char *name);
const sfc_record *sfc_ir_record(const sfc_ir *ir, const char *name);
const sfc_method *sfc_entity_method(const sfc_entity *e, const char *name);

/* The protobuf wire type of a value of type t (docs/entities.md, "Records
 * and field encodings"): 0 varint (bool, int32, int64), 5 fixed32 (float),
 * 1 fixed64 (double), 2 length-delimited (everything else). One answer
 * for the generated codecs and the JSON codec. */
unsigned sfc_type_wire_type(const sfc_type *t);

#endif
