/*
 * arena.c - the per-request bump allocator.
 *
 * A request's decoded message, its state cells, every value a function
 * builds and the encoded reply all come from one arena, which is reset
 * after the reply is sent. Reset keeps blocks for the next request, up to
 * the arena's retain cap (sf_arena_set_retain; default SF_ARENA_RETAIN
 * from the environment, else 16 MiB): a steady stream of similar requests
 * then runs with no malloc and, more important for large state, touches no
 * fresh page - a block malloc'd anew for a large request is mmapped and
 * every 4 KiB of it costs a page fault the first time it is written. Blocks
 * beyond the cap are freed at reset, so an arena that served one huge
 * request shrinks back and idle memory stays bounded. Blocks grow by
 * doubling up to SF_ARENA_BLOCK_MAX (a larger single allocation gets a block
 * of its own size), so a large request is a set of blocks that a later one
 * can reuse piece by piece.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define SF_ARENA_ALIGN 16
#define SF_ARENA_FIRST_BLOCK (64 * 1024)
#define SF_ARENA_BLOCK_MAX (8 * 1024 * 1024)
#define SF_ARENA_RETAIN_DEFAULT ((size_t)16 * 1024 * 1024)

typedef struct sf_block {
  struct sf_block *next;
  size_t size; /* usable bytes in data[] */
  size_t used;
  _Alignas(SF_ARENA_ALIGN) unsigned char data[];
} sf_block;

/* A call to make at the next reset or free (sf_arena_defer). */
typedef struct sf_defer {
  struct sf_defer *next;
  void (*fn)(void *);
  void *ptr;
} sf_defer;

struct sf_arena {
  sf_defer *defers; /* newest first, run at reset and free */
  sf_block *head;  /* the block being filled; older blocks follow */
  sf_block *spare; /* kept from earlier requests, largest first */
  size_t limit;    /* 0: unlimited */
  size_t retain;   /* bytes of blocks kept across a reset */
  size_t used;     /* bytes handed out since reset */
  size_t capacity; /* bytes in all blocks, in use and spare */
  bool over_limit; /* an allocation was refused by `limit` since reset */
  uint64_t mallocs;
};

static sf_block *block_new(sf_arena *a, size_t size) {
  if (size > SIZE_MAX - sizeof(sf_block)) return NULL;
  sf_block *b = malloc(sizeof(sf_block) + size);
  if (!b) return NULL;
  b->next = NULL;
  b->size = size;
  b->used = 0;
  a->capacity += size;
  a->mallocs++;
  return b;
}

static void block_free(sf_arena *a, sf_block *b) {
  a->capacity -= b->size;
  free(b);
}

/* SF_ARENA_RETAIN: a byte count, optionally with a k/K, m/M or g/G suffix;
 * anything else means the default. */
static size_t retain_from_env(void) {
  const char *s = getenv("SF_ARENA_RETAIN");
  if (!s || *s < '0' || *s > '9') return SF_ARENA_RETAIN_DEFAULT;
  char *end = NULL;
  unsigned long long v = strtoull(s, &end, 10);
  unsigned shift = 0;
  switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default: break;
  }
  if (*end != '\0' || v > (SIZE_MAX >> shift)) return SF_ARENA_RETAIN_DEFAULT;
  return (size_t)v << shift;
}

sf_arena *sf_arena_new(size_t limit) {
  sf_arena *a = calloc(1, sizeof(*a));
  if (!a) return NULL;
  a->limit = limit;
  a->retain = retain_from_env();
  return a;
}

static void free_list(sf_arena *a, sf_block *b) {
  while (b) {
    sf_block *next = b->next;
    block_free(a, b);
    b = next;
  }
}

sf_status sf_arena_defer(sf_arena *a, void (*fn)(void *), void *ptr) {
  sf_defer *d = sf_arena_alloc(a, sizeof(*d));
  if (!d) return SF_ERR_NOMEM;
  d->fn = fn;
  d->ptr = ptr;
  d->next = a->defers;
  a->defers = d;
  return SF_OK;
}

/* Runs the deferred calls (before the blocks that hold them go). */
static void run_defers(sf_arena *a) {
  for (sf_defer *d = a->defers; d; d = d->next) d->fn(d->ptr);
  a->defers = NULL;
}

void sf_arena_free(sf_arena *a) {
  if (!a) return;
  run_defers(a);
  free_list(a, a->head);
  free_list(a, a->spare);
  free(a);
}

/* Puts `b` into the spare list, which stays sorted largest first. */
static void spare_insert(sf_arena *a, sf_block *b) {
  sf_block **at = &a->spare;
  while (*at && (*at)->size > b->size) at = &(*at)->next;
  b->used = 0;
  b->next = *at;
  *at = b;
}

/* Keeps the largest spare blocks that fit within the retain cap together
 * and frees the rest. */
static void trim_spare(sf_arena *a) {
  size_t kept = 0;
  for (sf_block **at = &a->spare; *at;) {
    sf_block *b = *at;
    if (b->size <= a->retain - kept) {
      kept += b->size;
      at = &b->next;
    } else {
      *at = b->next;
      block_free(a, b);
    }
  }
}

void sf_arena_reset(sf_arena *a) {
  if (!a) return;
  run_defers(a);
  a->used = 0;
  a->over_limit = false;
  while (a->head) {
    sf_block *next = a->head->next;
    spare_insert(a, a->head);
    a->head = next;
  }
  trim_spare(a);
}

void sf_arena_set_retain(sf_arena *a, size_t bytes) {
  if (!a) return;
  a->retain = bytes;
  if (!a->head) trim_spare(a);
}

/* A block with room for `need` bytes: a spare one that fits (the smallest
 * such, so large ones stay for large values), else a new one. */
static sf_block *next_block(sf_arena *a, size_t need) {
  sf_block **fit = NULL;
  for (sf_block **at = &a->spare; *at && (*at)->size >= need; at = &(*at)->next)
    fit = at;
  if (fit) {
    sf_block *b = *fit;
    *fit = b->next;
    b->next = NULL;
    return b;
  }
  size_t bsize = a->head ? a->head->size * 2 : SF_ARENA_FIRST_BLOCK;
  if (bsize > SF_ARENA_BLOCK_MAX) bsize = SF_ARENA_BLOCK_MAX;
  if (bsize < need) bsize = need;
  return block_new(a, bsize);
}

/* sf_arena_alloc when the block being filled lacks room: the next block.
 * Out of line, so that the common case stays a leaf with nothing saved. */
static __attribute__((noinline)) void *alloc_in_next_block(sf_arena *a,
                                                           size_t need) {
  sf_block *nb = next_block(a, need);
  if (!nb) return NULL;
  nb->next = a->head;
  a->head = nb;
  nb->used = need;
  a->used += need;
  return nb->data;
}

void *sf_arena_alloc(sf_arena *a, size_t size) {
  if (!a) return NULL;
  size_t need = (size + (SF_ARENA_ALIGN - 1)) & ~(size_t)(SF_ARENA_ALIGN - 1);
  if (need < size) return NULL; /* overflow */
  if (need == 0) need = SF_ARENA_ALIGN;
  if (a->limit && (need > a->limit || a->used > a->limit - need)) {
    a->over_limit = true;
    return NULL;
  }
  sf_block *b = a->head;
  if (!b || b->size - b->used < need) return alloc_in_next_block(a, need);
  void *p = b->data + b->used;
  b->used += need;
  a->used += need;
  return p;
}

void *sf_arena_tail(sf_arena *a, size_t *avail) {
  *avail = 0;
  if (!a || !a->head) return NULL;
  *avail = a->head->size - a->head->used;
  return a->head->data + a->head->used;
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
size_t sf_arena_limit(const sf_arena *a) { return a ? a->limit : 0; }
size_t sf_arena_retain(const sf_arena *a) { return a ? a->retain : 0; }
bool sf_arena_over_limit(const sf_arena *a) { return a ? a->over_limit : false; }
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
