/*
 * test_store.c - sf-local's durable store (runtime/src/store.c).
 *
 * Each test works in a fresh directory under /tmp. Besides the round trips
 * of every table, the crash test forks a child that commits transactions
 * in a loop and reports each committed seq over a pipe, kills it with
 * SIGKILL at a random point, and checks on reopen that everything reported
 * is there and nothing is half there; it runs 20 times with different kill
 * points.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <sqlite3.h>

#include "store.h"

/* ---- fixtures ------------------------------------------------------------ */

static char dir[64];

static void make_dir(void) {
  snprintf(dir, sizeof dir, "/tmp/sfl-store-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
}

/* The store's directory is flat: remove its files, then it. */
static void remove_dir(void) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

TestSuite(store, .init = make_dir, .fini = remove_dir);

static sfl_store *open_ok(void) {
  char err[512] = "";
  sfl_store *s = sfl_store_open(dir, err, sizeof err);
  cr_assert_not_null(s, "open %s: %s", dir, err);
  return s;
}

/* ---- a visitor that records everything --------------------------------- */

typedef struct row {
  char kind; /* 'm'ailbox 's'tate 'd'elayed 'e'gress */
  uint64_t seq;
  char *a, *b, *c, *d; /* see the callbacks for which field is which */
  uint8_t *bytes;
  size_t len;
  int64_t t;
} row;

typedef struct rows {
  row *r;
  size_t n, cap;
  int fail_at; /* >0: the fail_at-th callback returns 7 */
} rows;

static row *push(rows *rs, char kind) {
  if (rs->n == rs->cap) {
    rs->cap = rs->cap ? 2 * rs->cap : 16;
    rs->r = realloc(rs->r, rs->cap * sizeof *rs->r);
    cr_assert_not_null(rs->r);
  }
  row *r = &rs->r[rs->n++];
  memset(r, 0, sizeof *r);
  r->kind = kind;
  return r;
}

static uint8_t *dup_bytes(const uint8_t *b, size_t len) {
  cr_assert_not_null(b, "the store passed a NULL pointer for bytes");
  uint8_t *p = malloc(len + 1);
  memcpy(p, b, len);
  return p;
}

static int stop_here(rows *rs) {
  return rs->fail_at > 0 && (size_t)rs->fail_at == rs->n ? 7 : 0;
}

static int on_mailbox(void *ctx, uint64_t seq, const char *addr,
                      const uint8_t *inv, size_t len) {
  rows *rs = ctx;
  row *r = push(rs, 'm');
  r->seq = seq;
  r->a = strdup(addr);
  r->bytes = dup_bytes(inv, len);
  r->len = len;
  return stop_here(rs);
}

static int on_state(void *ctx, const char *addr, const char *name,
                    const char *typename, const uint8_t *value, size_t len,
                    int64_t expire_at_ms) {
  rows *rs = ctx;
  row *r = push(rs, 's');
  r->a = strdup(addr);
  r->b = strdup(name);
  r->c = strdup(typename);
  r->bytes = dup_bytes(value, len);
  r->len = len;
  r->t = expire_at_ms;
  return stop_here(rs);
}

static int on_delayed(void *ctx, uint64_t seq, int64_t fire_at_ms,
                      const char *target, const char *owner,
                      const char *token, const uint8_t *inv, size_t len) {
  rows *rs = ctx;
  row *r = push(rs, 'd');
  r->seq = seq;
  r->t = fire_at_ms;
  r->a = strdup(target);
  r->b = strdup(owner);
  r->c = strdup(token);
  r->bytes = dup_bytes(inv, len);
  r->len = len;
  return stop_here(rs);
}

static int on_egress(void *ctx, uint64_t seq, const char *egress_id,
                     const char *topic, const char *key, const char *typename,
                     const uint8_t *value, size_t len) {
  rows *rs = ctx;
  row *r = push(rs, 'e');
  r->seq = seq;
  r->a = strdup(egress_id);
  r->b = strdup(topic);
  r->c = strdup(key);
  r->d = strdup(typename);
  r->bytes = dup_bytes(value, len);
  r->len = len;
  return stop_here(rs);
}

static void rows_free(rows *rs) {
  for (size_t i = 0; i < rs->n; i++) {
    row *r = &rs->r[i];
    free(r->a);
    free(r->b);
    free(r->c);
    free(r->d);
    free(r->bytes);
  }
  free(rs->r);
  memset(rs, 0, sizeof *rs);
}

/* Loads everything into rs (which the caller frees); returns max_seq. */
static uint64_t load(sfl_store *s, rows *rs) {
  sfl_store_visitor v = {rs, on_mailbox, on_state, on_delayed, on_egress};
  uint64_t max = 12345;
  cr_assert_eq(sfl_store_load(s, &v, &max), 0, "load: %s",
               sfl_store_error(s));
  return max;
}

static const row *find(const rows *rs, char kind, size_t nth) {
  for (size_t i = 0; i < rs->n; i++)
    if (rs->r[i].kind == kind && nth-- == 0) return &rs->r[i];
  return NULL;
}

static size_t count(const rows *rs, char kind) {
  size_t n = 0;
  for (size_t i = 0; i < rs->n; i++) n += rs->r[i].kind == kind;
  return n;
}

#define B(lit) ((const uint8_t *)(lit)), (sizeof(lit) - 1)

/* ---- round trips --------------------------------------------------------- */

Test(store, round_trip_every_table) {
  sfl_store *s = open_ok();
  cr_assert_eq(sfl_store_begin(s), 0, "%s", sfl_store_error(s));
  cr_assert_eq(sfl_store_mailbox_put(s, 1, "ns/fn/id/with/slashes",
                                     B("inv\0bytes")),
               0, "%s", sfl_store_error(s));
  cr_assert_eq(sfl_store_state_put(s, "ns/fn/a", "seen", "io.statefun.types/int",
                                   B("\x08\x2a"), 1700000000123),
               0, "%s", sfl_store_error(s));
  cr_assert_eq(sfl_store_state_put(s, "ns/fn/a", "empty", "t/x", NULL, 0, 0),
               0);
  cr_assert_eq(sfl_store_delayed_put(s, 2, 1700000005000, "ns/fn/b", "a",
                                     "tok-1", B("delayed")),
               0, "%s", sfl_store_error(s));
  cr_assert_eq(sfl_store_delayed_put(s, 3, 5, "ns/fn/c", "", "", B("x")), 0);
  cr_assert_eq(sfl_store_egress_put(s, 4, "ns/out", "greetings", "user-7",
                                    "type.googleapis.com/x", B("v\0v")),
               0, "%s", sfl_store_error(s));
  cr_assert_eq(sfl_store_egress_put(s, 5, "ns/gen", NULL, NULL, "t/raw", NULL,
                                    0),
               0);
  cr_assert_eq(sfl_store_commit(s), 0, "%s", sfl_store_error(s));
  sfl_store_close(s);

  s = open_ok();
  rows rs = {0};
  cr_assert_eq(load(s, &rs), 5);
  cr_assert_eq(rs.n, 7);

  const row *m = find(&rs, 'm', 0);
  cr_assert_not_null(m);
  cr_assert_eq(m->seq, 1);
  cr_assert_str_eq(m->a, "ns/fn/id/with/slashes");
  cr_assert_eq(m->len, 9);
  cr_assert_arr_eq(m->bytes, "inv\0bytes", 9);

  cr_assert_eq(count(&rs, 's'), 2);
  for (size_t i = 0; i < 2; i++) {
    const row *st = find(&rs, 's', i);
    cr_assert_str_eq(st->a, "ns/fn/a");
    if (!strcmp(st->b, "seen")) {
      cr_assert_str_eq(st->c, "io.statefun.types/int");
      cr_assert_eq(st->len, 2);
      cr_assert_arr_eq(st->bytes, "\x08\x2a", 2);
      cr_assert_eq(st->t, 1700000000123);
    } else {
      cr_assert_str_eq(st->b, "empty");
      cr_assert_str_eq(st->c, "t/x");
      cr_assert_eq(st->len, 0);
      cr_assert_eq(st->t, 0);
    }
  }

  const row *d = find(&rs, 'd', 0);
  cr_assert_eq(d->seq, 2);
  cr_assert_eq(d->t, 1700000005000);
  cr_assert_str_eq(d->a, "ns/fn/b");
  cr_assert_str_eq(d->b, "a");
  cr_assert_str_eq(d->c, "tok-1");
  cr_assert_eq(d->len, 7);
  cr_assert_arr_eq(d->bytes, "delayed", 7);
  d = find(&rs, 'd', 1);
  cr_assert_eq(d->seq, 3);
  cr_assert_str_eq(d->b, "");
  cr_assert_str_eq(d->c, "");

  const row *e = find(&rs, 'e', 0);
  cr_assert_eq(e->seq, 4);
  cr_assert_str_eq(e->a, "ns/out");
  cr_assert_str_eq(e->b, "greetings");
  cr_assert_str_eq(e->c, "user-7");
  cr_assert_str_eq(e->d, "type.googleapis.com/x");
  cr_assert_eq(e->len, 3);
  cr_assert_arr_eq(e->bytes, "v\0v", 3);
  e = find(&rs, 'e', 1);
  cr_assert_eq(e->seq, 5);
  cr_assert_str_eq(e->b, ""); /* NULL topic/key are stored as "" */
  cr_assert_str_eq(e->c, "");
  cr_assert_eq(e->len, 0);
  rows_free(&rs);
  sfl_store_close(s);
}

Test(store, put_replaces_and_del_removes) {
  sfl_store *s = open_ok();
  cr_assert_eq(sfl_store_begin(s), 0);
  cr_assert_eq(sfl_store_state_put(s, "n/f/1", "v", "t/a", B("old"), 0), 0);
  cr_assert_eq(sfl_store_state_put(s, "n/f/1", "v", "t/b", B("new!"), 9), 0);
  cr_assert_eq(sfl_store_state_put(s, "n/f/1", "w", "t/a", B("w"), 0), 0);
  cr_assert_eq(sfl_store_mailbox_put(s, 1, "n/f/1", B("a")), 0);
  cr_assert_eq(sfl_store_mailbox_put(s, 2, "n/f/1", B("b")), 0);
  cr_assert_eq(sfl_store_delayed_put(s, 3, 1, "n/f/1", "", "", B("c")), 0);
  cr_assert_eq(sfl_store_egress_put(s, 4, "n/e", "", "", "t/a", B("d")), 0);
  cr_assert_eq(sfl_store_commit(s), 0);

  cr_assert_eq(sfl_store_begin(s), 0);
  cr_assert_eq(sfl_store_state_del(s, "n/f/1", "w"), 0);
  cr_assert_eq(sfl_store_state_del(s, "n/f/1", "never-there"), 0);
  cr_assert_eq(sfl_store_mailbox_del(s, 1), 0);
  cr_assert_eq(sfl_store_delayed_del(s, 3), 0);
  cr_assert_eq(sfl_store_egress_del(s, 4), 0);
  cr_assert_eq(sfl_store_commit(s), 0);

  rows rs = {0};
  cr_assert_eq(load(s, &rs), 4);
  cr_assert_eq(rs.n, 2);
  const row *st = find(&rs, 's', 0);
  cr_assert_str_eq(st->c, "t/b");
  cr_assert_eq(st->len, 4);
  cr_assert_eq(st->t, 9);
  cr_assert_eq(find(&rs, 'm', 0)->seq, 2);
  rows_free(&rs);
  sfl_store_close(s);
}

Test(store, load_is_in_seq_order_across_tables) {
  sfl_store *s = open_ok();
  cr_assert_eq(sfl_store_begin(s), 0);
  cr_assert_eq(sfl_store_mailbox_put(s, 50, "n/f/1", B("m50")), 0);
  cr_assert_eq(sfl_store_egress_put(s, 30, "n/e", "", "", "t", B("e30")), 0);
  cr_assert_eq(sfl_store_delayed_put(s, 40, 0, "n/f/2", "", "", B("d40")), 0);
  cr_assert_eq(sfl_store_mailbox_put(s, 10, "n/f/1", B("m10")), 0);
  cr_assert_eq(sfl_store_egress_put(s, 20, "n/e", "", "", "t", B("e20")), 0);
  cr_assert_eq(sfl_store_mailbox_put(s, 7, "n/f/3", B("m7")), 0);
  cr_assert_eq(sfl_store_delayed_put(s, 45, 0, "n/f/2", "", "", B("d45")), 0);
  cr_assert_eq(sfl_store_state_put(s, "n/f/1", "x", "t", B("s"), 0), 0);
  cr_assert_eq(sfl_store_commit(s), 0);
  sfl_store_close(s);

  s = open_ok();
  rows rs = {0};
  cr_assert_eq(load(s, &rs), 50);
  static const struct {
    char kind;
    uint64_t seq;
  } want[] = {{'m', 7},  {'m', 10}, {'e', 20}, {'e', 30},
              {'d', 40}, {'d', 45}, {'m', 50}};
  size_t j = 0;
  for (size_t i = 0; i < rs.n; i++) {
    if (rs.r[i].kind == 's') {
      cr_assert_eq(j, 0, "state comes before the seq-ordered rows");
      continue;
    }
    cr_assert_lt(j, 7);
    cr_assert_eq(rs.r[i].kind, want[j].kind, "row %zu", j);
    cr_assert_eq(rs.r[i].seq, want[j].seq, "row %zu", j);
    j++;
  }
  cr_assert_eq(j, 7);
  rows_free(&rs);
  sfl_store_close(s);
}

/* ---- max_seq ------------------------------------------------------------- */

static int64_t meta_max_seq(void) {
  char path[128];
  snprintf(path, sizeof path, "%s/sf-local.db", dir);
  sqlite3 *db;
  cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
               SQLITE_OK);
  sqlite3_stmt *st;
  cr_assert_eq(sqlite3_prepare_v2(
                   db, "SELECT value FROM meta WHERE key='max_seq'", -1, &st,
                   NULL),
               SQLITE_OK, "%s", sqlite3_errmsg(db));
  cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
  int64_t v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

Test(store, max_seq_survives_deleting_every_row) {
  sfl_store *s = open_ok();
  uint64_t max = 99;
  cr_assert_eq(sfl_store_load(s, NULL, &max), 0);
  cr_assert_eq(max, 0, "a new store starts at 0");

  cr_assert_eq(sfl_store_begin(s), 0);
  cr_assert_eq(sfl_store_egress_put(s, 77, "n/e", "", "", "t", B("x")), 0);
  cr_assert_eq(sfl_store_mailbox_put(s, 12, "n/f/1", B("x")), 0);
  cr_assert_eq(sfl_store_commit(s), 0);
  cr_assert_eq(meta_max_seq(), 77);

  cr_assert_eq(sfl_store_begin(s), 0);
  cr_assert_eq(sfl_store_egress_del(s, 77), 0);
  cr_assert_eq(sfl_store_mailbox_del(s, 12), 0);
  cr_assert_eq(sfl_store_delayed_put(s, 80, 0, "n/f/1", "", "", B("x")), 0);
  cr_assert_eq(sfl_store_delayed_del(s, 80), 0);
  cr_assert_eq(sfl_store_commit(s), 0);
  sfl_store_close(s);

  s = open_ok();
  rows rs = {0};
  cr_assert_eq(load(s, &rs), 80);
  cr_assert_eq(rs.n, 0);
  cr_assert_eq(meta_max_seq(), 80);

  /* A smaller seq does not lower it. */
  cr_assert_eq(sfl_store_mailbox_put(s, 3, "n/f/1", B("x")), 0);
  cr_assert_eq(load(s, &rs), 80);
  rows_free(&rs);
  sfl_store_close(s);
  cr_assert_eq(meta_max_seq(), 80);
}

/* ---- transactions -------------------------------------------------------- */

Test(store, rollback_discards_everything) {
  sfl_store *s = open_ok();
  cr_assert_eq(sfl_store_begin(s), 0);
  cr_assert_eq(sfl_store_mailbox_put(s, 1, "n/f/1", B("keep")), 0);
  cr_assert_eq(sfl_store_state_put(s, "n/f/1", "v", "t", B("keep"), 0), 0);
  cr_assert_eq(sfl_store_commit(s), 0);

  cr_assert_eq(sfl_store_begin(s), 0);
  cr_assert_eq(sfl_store_mailbox_del(s, 1), 0);
  cr_assert_eq(sfl_store_state_put(s, "n/f/1", "v", "t", B("lost"), 0), 0);
  cr_assert_eq(sfl_store_mailbox_put(s, 100, "n/f/1", B("lost")), 0);
  cr_assert_eq(sfl_store_delayed_put(s, 101, 0, "n/f/1", "", "", B("l")), 0);
  cr_assert_eq(sfl_store_egress_put(s, 102, "n/e", "", "", "t", B("l")), 0);
  cr_assert_eq(sfl_store_dedup_put(s, "lost-key", 1), 0);
  cr_assert_eq(sfl_store_rollback(s), 0, "%s", sfl_store_error(s));

  rows rs = {0};
  cr_assert_eq(load(s, &rs), 1, "a rolled-back seq is not remembered");
  cr_assert_eq(rs.n, 2);
  cr_assert_eq(find(&rs, 'm', 0)->seq, 1);
  cr_assert_arr_eq(find(&rs, 's', 0)->bytes, "keep", 4);
  cr_assert_eq(sfl_store_dedup_has(s, "lost-key"), 0);
  rows_free(&rs);
  sfl_store_close(s);
  cr_assert_eq(meta_max_seq(), 1);
}

Test(store, reopen_keeps_committed_and_drops_open_transaction) {
  sfl_store *s = open_ok();
  cr_assert_eq(sfl_store_begin(s), 0);
  cr_assert_eq(sfl_store_mailbox_put(s, 1, "n/f/1", B("committed")), 0);
  cr_assert_eq(sfl_store_commit(s), 0);
  cr_assert_eq(sfl_store_begin(s), 0);
  cr_assert_eq(sfl_store_mailbox_put(s, 2, "n/f/1", B("open")), 0);
  sfl_store_close(s); /* with the transaction still open */

  s = open_ok();
  rows rs = {0};
  cr_assert_eq(load(s, &rs), 1);
  cr_assert_eq(rs.n, 1);
  cr_assert_eq(find(&rs, 'm', 0)->seq, 1);
  rows_free(&rs);
  sfl_store_close(s);
}

Test(store, puts_outside_a_transaction_autocommit) {
  sfl_store *s = open_ok();
  cr_assert_eq(sfl_store_mailbox_put(s, 9, "n/f/1", B("a")), 0,
               "%s", sfl_store_error(s));
  cr_assert_eq(sfl_store_state_put(s, "n/f/1", "v", "t", B("b"), 0), 0);
  cr_assert_eq(sfl_store_dedup_put(s, "k", 1), 0);
  sfl_store_close(s);

  s = open_ok();
  rows rs = {0};
  cr_assert_eq(load(s, &rs), 9);
  cr_assert_eq(rs.n, 2);
  cr_assert_eq(sfl_store_dedup_has(s, "k"), 1);
  rows_free(&rs);
  sfl_store_close(s);
  cr_assert_eq(meta_max_seq(), 9);
}

Test(store, misuse_is_an_error_with_a_message) {
  sfl_store *s = open_ok();
  cr_assert_eq(sfl_store_commit(s), -1);
  cr_assert(strstr(sfl_store_error(s), "commit without a transaction"));
  cr_assert_eq(sfl_store_rollback(s), -1);
  cr_assert_eq(sfl_store_begin(s), 0);
  cr_assert_eq(sfl_store_begin(s), -1);
  cr_assert(strstr(sfl_store_error(s), "already open"));
  cr_assert(strstr(sfl_store_error(s), dir), "names the db: %s",
            sfl_store_error(s));
  cr_assert_eq(sfl_store_commit(s), 0);
  cr_assert_eq(sfl_store_mailbox_put(s, (uint64_t)INT64_MAX + 1, "n/f/1",
                                     B("x")),
               -1);
  cr_assert(strstr(sfl_store_error(s), "out of range"));
  sfl_store_close(s);
}

Test(store, visitor_can_stop_the_load) {
  sfl_store *s = open_ok();
  for (uint64_t i = 1; i <= 5; i++)
    cr_assert_eq(sfl_store_mailbox_put(s, i, "n/f/1", B("x")), 0);
  rows rs = {.fail_at = 3};
  sfl_store_visitor v = {&rs, on_mailbox, on_state, on_delayed, on_egress};
  cr_assert_eq(sfl_store_load(s, &v, NULL), -1);
  cr_assert_eq(rs.n, 3);
  cr_assert(strstr(sfl_store_error(s), "mailbox visitor at seq 3"), "%s",
            sfl_store_error(s));
  rows_free(&rs);
  /* The store is still usable. */
  cr_assert_eq(sfl_store_begin(s), 0, "%s", sfl_store_error(s));
  cr_assert_eq(sfl_store_commit(s), 0);
  sfl_store_close(s);
}

/* ---- dedup --------------------------------------------------------------- */

Test(store, dedup_has_and_put) {
  sfl_store *s = open_ok();
  cr_assert_eq(sfl_store_dedup_has(s, "order-1"), 0);
  cr_assert_eq(sfl_store_begin(s), 0);
  cr_assert_eq(sfl_store_dedup_put(s, "order-1", 1000), 0);
  cr_assert_eq(sfl_store_dedup_has(s, "order-1"), 1, "seen inside the txn");
  cr_assert_eq(sfl_store_commit(s), 0);
  cr_assert_eq(sfl_store_dedup_put(s, "order-1", 2000), 0, "re-put is fine");
  cr_assert_eq(sfl_store_dedup_has(s, "order-2"), 0);
  sfl_store_close(s);

  s = open_ok();
  cr_assert_eq(sfl_store_dedup_has(s, "order-1"), 1);
  cr_assert_eq(sfl_store_dedup_has(s, "order-2"), 0);
  sfl_store_close(s);
}

Test(store, dedup_keeps_the_newest_100000) {
  sfl_store *s = open_ok();
  char key[32];
  cr_assert_eq(sfl_store_begin(s), 0);
  for (int i = 0; i < 101000; i++) {
    snprintf(key, sizeof key, "k%d", i);
    cr_assert_eq(sfl_store_dedup_put(s, key, i), 0, "%s", sfl_store_error(s));
  }
  cr_assert_eq(sfl_store_commit(s), 0);
  cr_assert_eq(sfl_store_dedup_has(s, "k0"), 0);
  cr_assert_eq(sfl_store_dedup_has(s, "k999"), 0);
  cr_assert_eq(sfl_store_dedup_has(s, "k1000"), 1);
  cr_assert_eq(sfl_store_dedup_has(s, "k100999"), 1);
  sfl_store_close(s);
}

/* ---- opening ------------------------------------------------------------- */

Test(store, creates_nested_data_dir) {
  char sub[160];
  snprintf(sub, sizeof sub, "%s/a/b", dir);
  char err[512] = "";
  sfl_store *s = sfl_store_open(sub, err, sizeof err);
  cr_assert_not_null(s, "%s", err);
  sfl_store_close(s);
  char p[200];
  snprintf(p, sizeof p, "%s/sf-local.db", sub);
  cr_assert_eq(access(p, F_OK), 0);
  /* remove_dir is flat: clean the nested dirs here. */
  const char *names[] = {"sf-local.db", "sf-local.db-wal", "sf-local.db-shm",
                         "LOCK"};
  for (size_t i = 0; i < 4; i++) {
    snprintf(p, sizeof p, "%s/%s", sub, names[i]);
    unlink(p);
  }
  rmdir(sub);
  snprintf(p, sizeof p, "%s/a", dir);
  rmdir(p);
}

Test(store, refuses_another_schema_version) {
  sfl_store *s = open_ok();
  sfl_store_close(s);
  char path[128];
  snprintf(path, sizeof path, "%s/sf-local.db", dir);
  sqlite3 *db;
  cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
  cr_assert_eq(sqlite3_exec(db,
                            "UPDATE meta SET value = 99 "
                            "WHERE key = 'schema_version'",
                            NULL, NULL, NULL),
               SQLITE_OK);
  sqlite3_close(db);

  char err[512] = "";
  cr_assert_null(sfl_store_open(dir, err, sizeof err));
  cr_assert(strstr(err, path), "names the file: %s", err);
  cr_assert(strstr(err, "schema version 99"), "%s", err);
  cr_assert(strstr(err, "reads version 1"), "%s", err);
}

Test(store, refuses_a_file_that_is_not_a_database) {
  char path[128];
  snprintf(path, sizeof path, "%s/sf-local.db", dir);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs("this is not an SQLite database, it is a text file that is long "
        "enough to have a header\n",
        f);
  fclose(f);
  char err[512] = "";
  cr_assert_null(sfl_store_open(dir, err, sizeof err));
  cr_assert(strstr(err, path), "%s", err);
  cr_assert(strstr(err, "not a database"), "%s", err);
}

Test(store, refuses_a_foreign_sqlite_database) {
  char path[128];
  snprintf(path, sizeof path, "%s/sf-local.db", dir);
  sqlite3 *db;
  cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
  cr_assert_eq(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL),
               SQLITE_OK);
  sqlite3_close(db);
  char err[512] = "";
  cr_assert_null(sfl_store_open(dir, err, sizeof err));
  cr_assert(strstr(err, "not an sf-local database"), "%s", err);
}

Test(store, a_data_dir_is_opened_once) {
  sfl_store *s = open_ok();
  char err[512] = "", want[256];
  cr_assert_null(sfl_store_open(dir, err, sizeof err));
  snprintf(want, sizeof want, "%s is in use by another sf-local (pid %ld)",
           dir, (long)getpid());
  cr_assert_str_eq(err, want);
  sfl_store_close(s);

  s = open_ok(); /* free again once closed */
  sfl_store_close(s);
}

Test(store, the_lock_holder_may_be_another_process) {
  int p[2];
  cr_assert_eq(pipe(p), 0);
  pid_t pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0) {
    char err[512];
    sfl_store *s = sfl_store_open(dir, err, sizeof err);
    char c = s ? 'y' : 'n';
    if (write(p[1], &c, 1) != 1) _exit(3);
    pause(); /* until killed */
    _exit(0);
  }
  close(p[1]);
  char c = 0;
  cr_assert_eq(read(p[0], &c, 1), 1);
  cr_assert_eq(c, 'y');
  char err[512] = "", want[256];
  cr_assert_null(sfl_store_open(dir, err, sizeof err));
  snprintf(want, sizeof want, "%s is in use by another sf-local (pid %ld)",
           dir, (long)pid);
  cr_assert_str_eq(err, want);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  close(p[0]);
  sfl_store_close(open_ok()); /* the kernel released the dead child's lock */
}

/* ---- kill -9 -------------------------------------------------------------
 * Transaction i writes mailbox row seq=i and state ("crash/fn/i", "n")
 * whose value is i's 8 bytes repeated 1..4096 times (so that commits write
 * several pages and the kill often lands in the middle of one). */

static size_t crash_value_len(uint64_t i) { return 8 * (1 + (i * 7919) % 4096); }

static void crash_value(uint64_t i, uint8_t *buf, size_t len) {
  for (size_t off = 0; off < len; off += 8) memcpy(buf + off, &i, 8);
}

static void crash_child(int fd) {
  char err[512];
  sfl_store *s = sfl_store_open(dir, err, sizeof err);
  if (!s) {
    fprintf(stderr, "crash child: %s\n", err);
    _exit(2);
  }
  uint8_t *buf = malloc(8 * 4096);
  for (uint64_t i = 1; i < 1000000; i++) {
    char addr[64];
    snprintf(addr, sizeof addr, "crash/fn/%llu", (unsigned long long)i);
    size_t len = crash_value_len(i);
    crash_value(i, buf, len);
    if (sfl_store_begin(s) || sfl_store_mailbox_put(s, i, addr, buf, 8) ||
        sfl_store_state_put(s, addr, "n", "t/u64", buf, len, 0) ||
        sfl_store_commit(s)) {
      fprintf(stderr, "crash child: %s\n", sfl_store_error(s));
      _exit(3);
    }
    if (write(fd, &i, sizeof i) != sizeof i) _exit(4);
  }
  _exit(0);
}

ParameterizedTestParameters(store, kill_9_keeps_every_committed_transaction) {
  static int runs[20];
  for (int i = 0; i < 20; i++) runs[i] = i;
  return cr_make_param_array(int, runs, 20);
}

ParameterizedTest(int *run, store, kill_9_keeps_every_committed_transaction,
                  .timeout = 60) {
  srand(0x5f10ca1 + (unsigned)*run);
  int wait_reports = 1 + rand() % 200; /* commits to let through first */
  int then_us = rand() % 4000;         /* and then a bit more */

  int p[2];
  cr_assert_eq(pipe(p), 0);
  pid_t pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0) {
    close(p[0]);
    crash_child(p[1]);
  }
  close(p[1]);
  uint64_t reported = 0, seq;
  int got = 0;
  while (got < wait_reports && read(p[0], &seq, sizeof seq) == sizeof seq) {
    cr_assert_eq(seq, reported + 1);
    reported = seq;
    got++;
  }
  cr_assert_eq(got, wait_reports, "the child died early");
  usleep((useconds_t)then_us);
  cr_assert_eq(kill(pid, SIGKILL), 0);
  /* Whatever it reported before dying counts as committed too. */
  while (read(p[0], &seq, sizeof seq) == sizeof seq) {
    cr_assert_eq(seq, reported + 1);
    reported = seq;
  }
  close(p[0]);
  int status;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
            "child status %d", status);

  sfl_store *s = open_ok();
  rows rs = {0};
  uint64_t max = load(s, &rs);
  size_t nm = count(&rs, 'm'), ns = count(&rs, 's');
  cr_assert_eq(nm, ns, "run %d: %zu mailbox rows but %zu state rows", *run,
               nm, ns);
  /* Committed = 1..n, with n the last reported or, when the kill fell
   * between COMMIT and the report, one more. */
  cr_assert(nm == reported || nm == reported + 1,
            "run %d: reported %llu committed, found %zu", *run,
            (unsigned long long)reported, nm);
  cr_assert_eq(max, nm);
  uint8_t *want = malloc(8 * 4096);
  for (size_t k = 0; k < nm; k++) {
    const row *m = find(&rs, 'm', k);
    cr_assert_eq(m->seq, k + 1, "mailbox in seq order without gaps");
    char addr[64];
    snprintf(addr, sizeof addr, "crash/fn/%llu", (unsigned long long)m->seq);
    cr_assert_str_eq(m->a, addr);
    size_t len = crash_value_len(m->seq);
    crash_value(m->seq, want, len);
    cr_assert_eq(m->len, 8);
    cr_assert_arr_eq(m->bytes, want, 8);
    const row *st = NULL;
    for (size_t j = 0; j < ns && !st; j++) {
      const row *c = find(&rs, 's', j);
      if (!strcmp(c->a, addr)) st = c;
    }
    cr_assert_not_null(st, "run %d: mailbox %s without its state", *run,
                       addr);
    cr_assert_eq(st->len, len);
    cr_assert_arr_eq(st->bytes, want, len);
  }
  free(want);
  rows_free(&rs);
  /* And it keeps working: the next seq commits. */
  cr_assert_eq(sfl_store_mailbox_put(s, nm + 1, "crash/fn/next", B("x")), 0,
               "%s", sfl_store_error(s));
  sfl_store_close(s);
  cr_log_info("run %d: killed after %llu reported commits (+%d us), %zu "
              "found",
              *run, (unsigned long long)reported, then_us, nm);
}
