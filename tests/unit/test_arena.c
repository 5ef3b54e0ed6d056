/* The per-request arena: alignment, growth, limits, reuse without malloc. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <statefun/statefun.h>

Test(arena, allocations_are_aligned_and_distinct) {
  sf_arena *a = sf_arena_new(0);
  char *p = sf_arena_alloc(a, 1);
  char *q = sf_arena_alloc(a, 3);
  double *d = sf_arena_alloc(a, sizeof(double));
  cr_assert(p && q && d);
  cr_assert_eq((uintptr_t)p % 16, 0);
  cr_assert_eq((uintptr_t)q % 16, 0);
  cr_assert_eq((uintptr_t)d % 16, 0);
  cr_assert(q >= p + 1 && (char *)d >= q + 3);
  *d = 1.5;
  cr_assert_eq(sf_arena_used(a), 48);
  sf_arena_free(a);
}

Test(arena, grows_past_first_block_and_keeps_data) {
  sf_arena *a = sf_arena_new(0);
  char *small = sf_arena_alloc(a, 10);
  strcpy(small, "kept");
  char *big = sf_arena_alloc(a, 1 << 20);
  cr_assert(big);
  memset(big, 0xAB, 1 << 20);
  cr_assert_str_eq(small, "kept");
  cr_assert_geq(sf_arena_capacity(a), (size_t)(1 << 20));
  sf_arena_free(a);
}

Test(arena, limit_is_enforced) {
  sf_arena *a = sf_arena_new(1000);
  cr_assert_not_null(sf_arena_alloc(a, 500));
  cr_assert_null(sf_arena_alloc(a, 600));
  cr_assert_not_null(sf_arena_alloc(a, 400));
  cr_assert_null(sf_arena_alloc(a, SIZE_MAX));
  sf_arena_reset(a);
  cr_assert_not_null(sf_arena_alloc(a, 900));
  sf_arena_free(a);
}

Test(arena, warm_arena_needs_no_malloc) {
  sf_arena *a = sf_arena_new(0);
  /* A "request" that needs several blocks. */
  for (int i = 0; i < 50; i++) cr_assert(sf_arena_alloc(a, 40000));
  sf_arena_reset(a); /* keeps the blocks */
  uint64_t before = sf_arena_mallocs(a);
  for (int round = 0; round < 100; round++) {
    for (int i = 0; i < 50; i++) cr_assert(sf_arena_alloc(a, 40000));
    sf_arena_reset(a);
  }
  cr_assert_eq(sf_arena_mallocs(a), before, "mallocs grew from %llu to %llu",
               (unsigned long long)before, (unsigned long long)sf_arena_mallocs(a));
  sf_arena_free(a);
}

Test(arena, strndup_terminates) {
  sf_arena *a = sf_arena_new(0);
  char *s = sf_arena_strndup(a, "hello world", 5);
  cr_assert_str_eq(s, "hello");
  cr_assert_str_eq(sf_arena_strndup(a, "", 0), "");
  sf_arena_free(a);
}

Test(arena, null_is_harmless) {
  sf_arena_free(NULL);
  sf_arena_reset(NULL);
  cr_assert_null(sf_arena_alloc(NULL, 8));
  cr_assert_eq(sf_arena_used(NULL), 0);
}

/* A large request's blocks are kept within the retain cap: the next such
 * request reuses them (no malloc, so no fresh pages to fault in). */
Test(arena, retained_blocks_are_reused) {
  sf_arena *a = sf_arena_new(0);
  sf_arena_set_retain(a, 64u << 20);
  for (int i = 0; i < 100; i++) cr_assert(sf_arena_alloc(a, 500000));
  sf_arena_reset(a);
  size_t kept = sf_arena_capacity(a);
  cr_assert_geq(kept, (size_t)100 * 500000);
  uint64_t before = sf_arena_mallocs(a);
  for (int round = 0; round < 20; round++) {
    for (int i = 0; i < 100; i++) cr_assert(sf_arena_alloc(a, 500000));
    sf_arena_reset(a);
  }
  cr_assert_eq(sf_arena_mallocs(a), before, "mallocs grew from %llu to %llu",
               (unsigned long long)before, (unsigned long long)sf_arena_mallocs(a));
  cr_assert_eq(sf_arena_capacity(a), kept);
  sf_arena_free(a);
}

/* After a request larger than the cap, reset frees what is beyond it. */
Test(arena, shrinks_to_retain_cap_after_large_request) {
  sf_arena *a = sf_arena_new(0);
  sf_arena_set_retain(a, 4u << 20);
  for (int i = 0; i < 100; i++) cr_assert(sf_arena_alloc(a, 500000));
  cr_assert_geq(sf_arena_capacity(a), (size_t)100 * 500000);
  sf_arena_reset(a);
  cr_assert_leq(sf_arena_capacity(a), (size_t)4 << 20);
  cr_assert_gt(sf_arena_capacity(a), 0); /* something kept for small ones */
  /* A small request after it needs no malloc. */
  uint64_t before = sf_arena_mallocs(a);
  for (int i = 0; i < 10; i++) cr_assert(sf_arena_alloc(a, 1000));
  cr_assert_eq(sf_arena_mallocs(a), before);
  sf_arena_reset(a);
  sf_arena_set_retain(a, 0);
  cr_assert_eq(sf_arena_capacity(a), 0);
  sf_arena_free(a);
}

/* The limit refusal is told apart from out of memory, and reset clears it. */
Test(arena, over_limit_is_reported_until_reset) {
  sf_arena *a = sf_arena_new(1 << 20);
  cr_assert_eq(sf_arena_limit(a), (size_t)1 << 20);
  cr_assert_not_null(sf_arena_alloc(a, 1000));
  cr_assert(!sf_arena_over_limit(a));
  cr_assert_null(sf_arena_alloc(a, 2 << 20));
  cr_assert(sf_arena_over_limit(a));
  sf_arena_reset(a);
  cr_assert(!sf_arena_over_limit(a));
  sf_arena_free(a);
}

/* SF_ARENA_RETAIN sets the default cap of arenas made afterwards. */
Test(arena, retain_cap_from_environment) {
  setenv("SF_ARENA_RETAIN", "1M", 1);
  sf_arena *a = sf_arena_new(0);
  unsetenv("SF_ARENA_RETAIN");
  for (int i = 0; i < 40; i++) cr_assert(sf_arena_alloc(a, 500000));
  sf_arena_reset(a);
  cr_assert_leq(sf_arena_capacity(a), (size_t)1 << 20);
  sf_arena_free(a);
}
