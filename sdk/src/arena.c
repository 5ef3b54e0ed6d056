/*
 * arena.c - the per-request bump allocator.
 *
 * A request's decoded message, its state cells, every value a function
 * builds and the encoded reply all come from one arena, which is reset
 * after the reply is sent. Reset keeps the memory: when the request needed
 * several blocks, they are merged into one block of their total size (up to
 * SF_ARENA_KEEP_MAX), so a steady stream of similar requests runs with no
 * malloc at all once the arena is warm.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define SF_ARENA_ALIGN 16
#define SF_ARENA_FIRST_BLOCK (64 * 1024)
#define SF_ARENA_KEEP_MAX (64 * 1024 * 1024)

typedef struct sf_block {
  struct sf_block *next;
  size_t size; /* usable bytes in data[] */
  size_t used;
  _Alignas(SF_ARENA_ALIGN) unsigned char data[];
} sf_block;

struct sf_arena {
  sf_block *head; /* the block being filled; older blocks follow */
  size_t limit;   /* 0: unlimited */
  size_t used;    /* bytes handed out since reset */
  size_t capacity;
  uint64_t mallocs;
};

static sf_block *block_new(sf_arena *a, size_t size) {
  sf_block *b = malloc(sizeof(sf_block) + size);
  if (!b) return NULL;
  b->next = NULL;
  b->size = size;
  b->used = 0;
  a->capacity += size;
  a->mallocs++;
  return b;
}

sf_arena *sf_arena_new(size_t limit) {
  sf_arena *a = calloc(1, sizeof(*a));
  if (!a) return NULL;
  a->limit = limit;
  return a;
}

static void free_blocks(sf_block *b) {
  while (b) {
    sf_block *next = b->next;
    free(b);
    b = next;
  }
}

void sf_arena_free(sf_arena *a) {
  if (!a) return;
  free_blocks(a->head);
  free(a);
}

void sf_arena_reset(sf_arena *a) {
  if (!a) return;
  a->used = 0;
  if (!a->head) return;
  if (!a->head->next && a->head->size <= SF_ARENA_KEEP_MAX) {
    a->head->used = 0;
    return;
  }
  /* Several blocks (or one huge one): replace them by a single block big
   * enough for the same load next time, within the keep bound. */
  size_t total = a->capacity;
  free_blocks(a->head);
  a->head = NULL;
  a->capacity = 0;
  if (total > SF_ARENA_KEEP_MAX) total = SF_ARENA_KEEP_MAX;
  a->head = block_new(a, total); /* NULL is fine: allocated on demand */
}

void *sf_arena_alloc(sf_arena *a, size_t size) {
  if (!a) return NULL;
  size_t need = (size + (SF_ARENA_ALIGN - 1)) & ~(size_t)(SF_ARENA_ALIGN - 1);
  if (need < size) return NULL; /* overflow */
  if (need == 0) need = SF_ARENA_ALIGN;
  if (a->limit && (need > a->limit || a->used > a->limit - need)) return NULL;
  sf_block *b = a->head;
  if (!b || b->size - b->used < need) {
    size_t bsize = b ? b->size * 2 : SF_ARENA_FIRST_BLOCK;
    if (bsize < need) bsize = need;
    sf_block *nb = block_new(a, bsize);
    if (!nb) return NULL;
    nb->next = b;
    a->head = nb;
    b = nb;
  }
  void *p = b->data + b->used;
  b->used += need;
  a->used += need;
  return p;
}

char *sf_arena_strndup(sf_arena *a, const char *s, size_t len) {
  if (!s && len) return NULL;
  char *p = sf_arena_alloc(a, len + 1);
  if (!p) return NULL;
  if (len) memcpy(p, s, len);
  p[len] = '\0';
  return p;
}

void *sf_arena_memdup(sf_arena *a, const void *data, size_t len) {
  void *p = sf_arena_alloc(a, len ? len : 1);
  if (p && len) memcpy(p, data, len);
  return p;
}

size_t sf_arena_used(const sf_arena *a) { return a ? a->used : 0; }
size_t sf_arena_capacity(const sf_arena *a) { return a ? a->capacity : 0; }
uint64_t sf_arena_mallocs(const sf_arena *a) { return a ? a->mallocs : 0; }

static void *pb_alloc(void *data, size_t size) {
  return sf_arena_alloc(data, size);
}
static void pb_free(void *data, void *ptr) {
  (void)data;
  (void)ptr; /* freed with the arena */
}

void sf_arena_protobuf_allocator(sf_arena *arena, ProtobufCAllocator *out) {
  out->alloc = pb_alloc;
  out->free = pb_free;
  out->allocator_data = arena;
}
