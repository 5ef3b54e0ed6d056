/*
 * store.c - sf-local's durable store (--data DIR), on SQLite.
 *
 * Why SQLite rather than a write-ahead log of our own: a WAL of our own
 * would need its own recovery, compaction and checksum logic. SQLite in WAL
 * journal mode already gives atomic multi-row
 * transactions (an accepted function response = mailbox removals + new
 * messages + state mutations + egress records, all or nothing), durable on
 * commit, crash-safe under kill -9 at any point, and it is one Debian
 * package (libsqlite3-dev).
 *
 * Syncing: synchronous=NORMAL, so COMMIT writes the WAL without fsync, and
 * we fdatasync() the -wal file ourselves (sfl_store_sync, on an fd of our
 * own): the engine commits under its lock and syncs without it, so that
 * ingress threads keep adding to the next transaction meanwhile. The sync
 * touches only wal_fd and the test hook (set before the loop runs), never the
 * connection. sfl_store_commit does both steps, as FULL would.
 * Checkpoints sync the WAL and the database in NORMAL mode as in FULL.
 *
 * Layout: DIR/sf-local.db (plus SQLite's -wal and -shm files next to it)
 * and DIR/LOCK, flock()ed for as long as the store is open so that two
 * sf-local processes never share a data dir. Every statement is prepared
 * once at open and kept in the sfl_store. The engine calls us under its own
 * lock, so one connection is enough; it is opened FULLMUTEX anyway.
 *
 * Sequence numbers: the engine's seqs order mailbox, delayed and egress
 * rows and must never repeat, even after every row that carried the
 * highest one has been deleted. So meta('max_seq') holds the highest seq
 * ever put; a transaction that put a larger one rewrites it just before its
 * COMMIT, inside the same transaction. docs/sf-local-durability.md is the
 * user-facing account of all this.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#define SFL_STORE_SCHEMA_VERSION 1
#define SFL_STORE_DB_NAME "sf-local.db"
#define SFL_STORE_LOCK_NAME "LOCK"
#define SFL_STORE_BUSY_TIMEOUT_MS 5000
/* Idempotency keys: the newest DEDUP_KEEP are kept; the table is trimmed
 * at open and then once every DEDUP_TRIM_EVERY puts. */
#define SFL_STORE_DEDUP_KEEP 100000
#define SFL_STORE_DEDUP_TRIM_EVERY 1000

/* The prepared statements, by purpose. */
enum {
  ST_BEGIN,       /* write transaction */
  ST_BEGIN_READ,  /* snapshot for sfl_store_load */
  ST_COMMIT,
  ST_ROLLBACK,
  ST_META_MAX_SEQ,
  ST_MAILBOX_PUT,
  ST_MAILBOX_DEL,
  ST_STATE_PUT,
  ST_STATE_DEL,
  ST_DELAYED_PUT,
  ST_DELAYED_DEL,
  ST_EGRESS_PUT,
  ST_EGRESS_DEL,
  ST_DEDUP_PUT,
  ST_DEDUP_HAS,
  ST_DEDUP_TRIM,
  ST_LOAD_STATE,
  ST_LOAD_MAILBOX,
  ST_LOAD_DELAYED,
  ST_LOAD_EGRESS,
  ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_BEGIN_READ] = "BEGIN DEFERRED",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_META_MAX_SEQ] =
        "INSERT OR REPLACE INTO meta(key, value) VALUES('max_seq', ?1)",
    [ST_MAILBOX_PUT] =
        "INSERT OR REPLACE INTO mailbox(seq, addr, inv) VALUES(?1, ?2, ?3)",
    [ST_MAILBOX_DEL] = "DELETE FROM mailbox WHERE seq = ?1",
    [ST_STATE_PUT] = "INSERT OR REPLACE INTO state(addr, name, typename, "
                     "value, expire_at) VALUES(?1, ?2, ?3, ?4, ?5)",
    [ST_STATE_DEL] = "DELETE FROM state WHERE addr = ?1 AND name = ?2",
    [ST_DELAYED_PUT] = "INSERT OR REPLACE INTO delayed(seq, fire_at, target, "
                       "owner, token, inv) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_DELAYED_DEL] = "DELETE FROM delayed WHERE seq = ?1",
    [ST_EGRESS_PUT] = "INSERT OR REPLACE INTO egress(seq, egress_id, topic, "
                      "key, typename, value) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_EGRESS_DEL] = "DELETE FROM egress WHERE seq = ?1",
    /* OR REPLACE gives a re-put key a new rowid: rowid order is the order
     * keys were (last) accepted, which is what "newest" means here. */
    [ST_DEDUP_PUT] = "INSERT OR REPLACE INTO dedup(key, at) VALUES(?1, ?2)",
    [ST_DEDUP_HAS] = "SELECT 1 FROM dedup WHERE key = ?1",
    [ST_DEDUP_TRIM] = "DELETE FROM dedup WHERE rowid <= (SELECT rowid FROM "
                      "dedup ORDER BY rowid DESC LIMIT 1 OFFSET ?1)",
    [ST_LOAD_STATE] =
        "SELECT addr, name, typename, value, expire_at FROM state",
    [ST_LOAD_MAILBOX] = "SELECT seq, addr, inv FROM mailbox ORDER BY seq",
    [ST_LOAD_DELAYED] = "SELECT seq, fire_at, target, owner, token, inv "
                        "FROM delayed ORDER BY seq",
    [ST_LOAD_EGRESS] = "SELECT seq, egress_id, topic, key, typename, value "
                       "FROM egress ORDER BY seq",
};

/* Version 1. A change to any of this bumps SFL_STORE_SCHEMA_VERSION. */
static const char schema_sql[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value);"
    "CREATE TABLE mailbox(seq INTEGER PRIMARY KEY, addr TEXT NOT NULL,"
    " inv BLOB NOT NULL);"
    "CREATE TABLE state(addr TEXT NOT NULL, name TEXT NOT NULL,"
    " typename TEXT NOT NULL, value BLOB NOT NULL,"
    " expire_at INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(addr, name));"
    "CREATE TABLE delayed(seq INTEGER PRIMARY KEY, fire_at INTEGER NOT NULL,"
    " target TEXT NOT NULL, owner TEXT NOT NULL, token TEXT NOT NULL,"
    " inv BLOB NOT NULL);"
    "CREATE TABLE egress(seq INTEGER PRIMARY KEY, egress_id TEXT NOT NULL,"
    " topic TEXT NOT NULL, key TEXT NOT NULL, typename TEXT NOT NULL,"
    " value BLOB NOT NULL);"
    "CREATE TABLE dedup(key TEXT PRIMARY KEY, at INTEGER NOT NULL);";

struct sfl_store {
  sqlite3 *db;
  char *dir;
  char *path;                 /* DIR/sf-local.db, the prefix of messages */
  int lock_fd;                /* DIR/LOCK, flock()ed while open */
  sqlite3_stmt *st[ST_COUNT];
  bool in_txn;                /* between sfl_store_begin and commit/rollback */
  uint64_t max_seq;           /* highest seq committed (meta or any row) */
  uint64_t txn_max_seq;       /* highest seq put, committed or not */
  unsigned dedup_puts;        /* since the last trim */
  int wal_fd;                 /* DIR/sf-local.db-wal, for sfl_store_sync */
  int synced_changes;         /* sqlite3_total_changes at the last sync */
  sfl_store_sync_hook *sync_hook; /* test hook, see sfl_store_set_sync_hook */
  void *sync_hook_ctx;
  char err[512];
};

/* Empty blobs come back from SQLite as NULL; callers get a real pointer. */
static const uint8_t empty_bytes[1];

/* ---- errors -------------------------------------------------------------- */

static void set_err(sfl_store *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_err(sfl_store *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->err, sizeof s->err, fmt, ap);
  va_end(ap);
}

/* "DIR/sf-local.db: <SQLite's message>" */
static void db_err(sfl_store *s) {
  set_err(s, "%s: %s", s->path, sqlite3_errmsg(s->db));
}

const char *sfl_store_error(const sfl_store *s) {
  return s ? s->err : "no store";
}

/* ---- statement helpers ----------------------------------------------------
 * Each returns 0 or -1 with s->err set. Text and blobs are bound
 * SQLITE_STATIC: the statement is stepped and reset before we return, and
 * every parameter is rebound before the next step. */

static int bind_text(sfl_store *s, sqlite3_stmt *st, int i, const char *v) {
  if (sqlite3_bind_text(st, i, v ? v : "", -1, SQLITE_STATIC) != SQLITE_OK) {
    db_err(s);
    return -1;
  }
  return 0;
}

static int bind_blob(sfl_store *s, sqlite3_stmt *st, int i, const uint8_t *v,
                     size_t len) {
  /* A NULL pointer would bind SQL NULL; "" binds a zero-length blob. */
  if (sqlite3_bind_blob64(st, i, len ? (const void *)v : "", len,
                          SQLITE_STATIC) != SQLITE_OK) {
    db_err(s);
    return -1;
  }
  return 0;
}

static int bind_i64(sfl_store *s, sqlite3_stmt *st, int i, int64_t v) {
  if (sqlite3_bind_int64(st, i, v) != SQLITE_OK) {
    db_err(s);
    return -1;
  }
  return 0;
}

/* Seqs are stored as SQLite's signed 64-bit INTEGER. */
static int bind_seq(sfl_store *s, sqlite3_stmt *st, int i, uint64_t seq) {
  if (seq > (uint64_t)INT64_MAX) {
    set_err(s, "%s: seq %llu out of range", s->path,
            (unsigned long long)seq);
    return -1;
  }
  return bind_i64(s, st, i, (int64_t)seq);
}

/* Steps a statement that returns no rows (or whose rows we ignore). */
static int exec_stmt(sfl_store *s, sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
    db_err(s);
    sqlite3_reset(st);
    return -1;
  }
  sqlite3_reset(st);
  return 0;
}

/* Runs SQL text once (open-time only: pragmas, schema). */
static int exec_sql(sfl_store *s, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    set_err(s, "%s: %s", s->path, msg ? msg : sqlite3_errmsg(s->db));
    sqlite3_free(msg);
    return -1;
  }
  return 0;
}

/* Runs a one-row, one-column query; *found = 0 when it returns no row. */
static int query_i64(sfl_store *s, const char *sql, int64_t *out,
                     int *found) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
    db_err(s);
    return -1;
  }
  int rc = sqlite3_step(st);
  *found = 0;
  if (rc == SQLITE_ROW) {
    *found = sqlite3_column_type(st, 0) != SQLITE_NULL;
    *out = sqlite3_column_int64(st, 0);
  } else if (rc != SQLITE_DONE) {
    db_err(s);
    sqlite3_finalize(st);
    return -1;
  }
  sqlite3_finalize(st);
  return 0;
}

/* ---- transactions -------------------------------------------------------- */

int sfl_store_begin(sfl_store *s) {
  if (s->in_txn) {
    set_err(s, "%s: a transaction is already open", s->path);
    return -1;
  }
  if (exec_stmt(s, s->st[ST_BEGIN]) != 0) return -1;
  s->in_txn = true;
  s->txn_max_seq = s->max_seq;
  return 0;
}

int sfl_store_rollback(sfl_store *s) {
  if (!s->in_txn) {
    set_err(s, "%s: rollback without a transaction", s->path);
    return -1;
  }
  s->in_txn = false;
  s->txn_max_seq = s->max_seq;
  /* After some errors (SQLITE_FULL, SQLITE_IOERR, ...) SQLite has already
   * rolled the transaction back by itself: nothing left to do. */
  if (sqlite3_get_autocommit(s->db)) return 0;
  return exec_stmt(s, s->st[ST_ROLLBACK]);
}

int sfl_store_commit_unsynced(sfl_store *s) {
  if (!s->in_txn) {
    set_err(s, "%s: commit without a transaction", s->path);
    return -1;
  }
  if (sqlite3_get_autocommit(s->db)) {
    /* SQLite rolled back after an earlier failed statement. */
    s->in_txn = false;
    s->txn_max_seq = s->max_seq;
    set_err(s, "%s: transaction was rolled back after an earlier error",
            s->path);
    return -1;
  }
  int rc = 0;
  if (s->txn_max_seq > s->max_seq) {
    rc = bind_seq(s, s->st[ST_META_MAX_SEQ], 1, s->txn_max_seq);
    if (rc == 0) rc = exec_stmt(s, s->st[ST_META_MAX_SEQ]);
  }
  /* synchronous=NORMAL: COMMIT writes the WAL, sfl_store_sync syncs it. */
  if (rc == 0) rc = exec_stmt(s, s->st[ST_COMMIT]);
  if (rc != 0) {
    /* A transaction that failed to commit must leave nothing behind: roll
     * it back here, keeping the commit's error message. */
    char saved[sizeof s->err];
    memcpy(saved, s->err, sizeof saved);
    sfl_store_rollback(s);
    memcpy(s->err, saved, sizeof saved);
    return -1;
  }
  s->in_txn = false;
  s->max_seq = s->txn_max_seq;
  /* A transaction that changed no row wrote no WAL frame: nothing to sync. */
  int changes = sqlite3_total_changes(s->db);
  if (changes == s->synced_changes) return 0;
  s->synced_changes = changes;
  return 1;
}

void sfl_store_set_sync_hook(sfl_store *s, sfl_store_sync_hook *fn, void *ctx) {
  s->sync_hook = fn;
  s->sync_hook_ctx = ctx;
}

int sfl_store_sync(sfl_store *s) {
  if (s->sync_hook) s->sync_hook(s->sync_hook_ctx);
  return fdatasync(s->wal_fd) == 0 ? 0 : errno;
}

int sfl_store_commit(sfl_store *s) {
  int rc = sfl_store_commit_unsynced(s);
  if (rc <= 0) return rc;
  int err = sfl_store_sync(s);
  if (err == 0) return 0;
  set_err(s, "%s-wal: fdatasync: %s", s->path, strerror(err));
  return -1;
}


/* A put or del outside sfl_store_begin/commit runs in a transaction of its
 * own (so that meta's max_seq is written atomically with it). */
static int write_start(sfl_store *s, bool *own) {
  *own = !s->in_txn;
  return *own ? sfl_store_begin(s) : 0;
}

static int write_finish(sfl_store *s, bool own, int rc) {
  if (!own) return rc;
  if (rc != 0) {
    char saved[sizeof s->err];
    memcpy(saved, s->err, sizeof saved);
    sfl_store_rollback(s);
    memcpy(s->err, saved, sizeof saved);
    return -1;
  }
  return sfl_store_commit(s);
}

static void note_seq(sfl_store *s, uint64_t seq) {
  if (seq > s->txn_max_seq) s->txn_max_seq = seq;
}

/* ---- puts and dels ------------------------------------------------------- */

int sfl_store_mailbox_put(sfl_store *s, uint64_t seq, const char *addr,
                          const uint8_t *inv, size_t len) {
  sqlite3_stmt *st = s->st[ST_MAILBOX_PUT];
  bool own;
  if (write_start(s, &own) != 0) return -1;
  int rc = bind_seq(s, st, 1, seq) || bind_text(s, st, 2, addr) ||
                   bind_blob(s, st, 3, inv, len) || exec_stmt(s, st)
               ? -1
               : 0;
  if (rc == 0) note_seq(s, seq);
  return write_finish(s, own, rc);
}

/* Shared by the three "DELETE ... WHERE seq = ?" statements. */
static int del_seq(sfl_store *s, int which, uint64_t seq) {
  sqlite3_stmt *st = s->st[which];
  bool own;
  if (write_start(s, &own) != 0) return -1;
  int rc = bind_seq(s, st, 1, seq) || exec_stmt(s, st) ? -1 : 0;
  return write_finish(s, own, rc);
}

int sfl_store_mailbox_del(sfl_store *s, uint64_t seq) {
  return del_seq(s, ST_MAILBOX_DEL, seq);
}

int sfl_store_state_put(sfl_store *s, const char *addr, const char *name,
                        const char *typename, const uint8_t *value, size_t len,
                        int64_t expire_at_ms) {
  sqlite3_stmt *st = s->st[ST_STATE_PUT];
  bool own;
  if (write_start(s, &own) != 0) return -1;
  int rc = bind_text(s, st, 1, addr) || bind_text(s, st, 2, name) ||
                   bind_text(s, st, 3, typename) ||
                   bind_blob(s, st, 4, value, len) ||
                   bind_i64(s, st, 5, expire_at_ms) || exec_stmt(s, st)
               ? -1
               : 0;
  return write_finish(s, own, rc);
}

int sfl_store_state_del(sfl_store *s, const char *addr, const char *name) {
  sqlite3_stmt *st = s->st[ST_STATE_DEL];
  bool own;
  if (write_start(s, &own) != 0) return -1;
  int rc = bind_text(s, st, 1, addr) || bind_text(s, st, 2, name) ||
                   exec_stmt(s, st)
               ? -1
               : 0;
  return write_finish(s, own, rc);
}

int sfl_store_delayed_put(sfl_store *s, uint64_t seq, int64_t fire_at_ms,
                          const char *target, const char *owner,
                          const char *token, const uint8_t *inv, size_t len) {
  sqlite3_stmt *st = s->st[ST_DELAYED_PUT];
  bool own;
  if (write_start(s, &own) != 0) return -1;
  int rc = bind_seq(s, st, 1, seq) || bind_i64(s, st, 2, fire_at_ms) ||
                   bind_text(s, st, 3, target) || bind_text(s, st, 4, owner) ||
                   bind_text(s, st, 5, token) ||
                   bind_blob(s, st, 6, inv, len) || exec_stmt(s, st)
               ? -1
               : 0;
  if (rc == 0) note_seq(s, seq);
  return write_finish(s, own, rc);
}

int sfl_store_delayed_del(sfl_store *s, uint64_t seq) {
  return del_seq(s, ST_DELAYED_DEL, seq);
}

int sfl_store_egress_put(sfl_store *s, uint64_t seq, const char *egress_id,
                         const char *topic, const char *key,
                         const char *typename, const uint8_t *value,
                         size_t len) {
  sqlite3_stmt *st = s->st[ST_EGRESS_PUT];
  bool own;
  if (write_start(s, &own) != 0) return -1;
  int rc = bind_seq(s, st, 1, seq) || bind_text(s, st, 2, egress_id) ||
                   bind_text(s, st, 3, topic) || bind_text(s, st, 4, key) ||
                   bind_text(s, st, 5, typename) ||
                   bind_blob(s, st, 6, value, len) || exec_stmt(s, st)
               ? -1
               : 0;
  if (rc == 0) note_seq(s, seq);
  return write_finish(s, own, rc);
}

int sfl_store_egress_del(sfl_store *s, uint64_t seq) {
  return del_seq(s, ST_EGRESS_DEL, seq);
}

/* Drops all but the newest SFL_STORE_DEDUP_KEEP keys. */
static int dedup_trim(sfl_store *s) {
  sqlite3_stmt *st = s->st[ST_DEDUP_TRIM];
  s->dedup_puts = 0;
  return bind_i64(s, st, 1, SFL_STORE_DEDUP_KEEP) || exec_stmt(s, st) ? -1
                                                                      : 0;
}

int sfl_store_dedup_put(sfl_store *s, const char *key, int64_t at_ms) {
  sqlite3_stmt *st = s->st[ST_DEDUP_PUT];
  bool own;
  if (write_start(s, &own) != 0) return -1;
  int rc = bind_text(s, st, 1, key) || bind_i64(s, st, 2, at_ms) ||
                   exec_stmt(s, st)
               ? -1
               : 0;
  if (rc == 0 && ++s->dedup_puts >= SFL_STORE_DEDUP_TRIM_EVERY)
    rc = dedup_trim(s);
  return write_finish(s, own, rc);
}

int sfl_store_dedup_has(sfl_store *s, const char *key) {
  sqlite3_stmt *st = s->st[ST_DEDUP_HAS];
  if (bind_text(s, st, 1, key) != 0) return -1;
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    db_err(s);
    sqlite3_reset(st);
    return -1;
  }
  sqlite3_reset(st);
  return rc == SQLITE_ROW;
}

/* ---- load ---------------------------------------------------------------- */

static const char *col_text(sqlite3_stmt *st, int i) {
  const char *t = (const char *)sqlite3_column_text(st, i);
  return t ? t : "";
}

/* Column i as bytes; *len gets the size. Never NULL. */
static const uint8_t *col_blob(sqlite3_stmt *st, int i, size_t *len) {
  const uint8_t *b = sqlite3_column_blob(st, i); /* before _bytes */
  *len = (size_t)sqlite3_column_bytes(st, i);
  return b ? b : empty_bytes;
}

static int visit_state(sfl_store *s, const sfl_store_visitor *v) {
  sqlite3_stmt *st = s->st[ST_LOAD_STATE];
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (!v->state) continue;
    size_t len;
    const uint8_t *val = col_blob(st, 3, &len);
    int cb = v->state(v->ctx, col_text(st, 0), col_text(st, 1),
                      col_text(st, 2), val, len, sqlite3_column_int64(st, 4));
    if (cb != 0) {
      set_err(s, "%s: load stopped by the state visitor (%d)", s->path, cb);
      sqlite3_reset(st);
      return -1;
    }
  }
  if (rc != SQLITE_DONE) db_err(s);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : -1;
}

/* Calls the visitor for the row `st` (of kind `k`, 0..2) is on. */
static int visit_row(sfl_store *s, const sfl_store_visitor *v, int k,
                     sqlite3_stmt *st) {
  uint64_t seq = (uint64_t)sqlite3_column_int64(st, 0);
  size_t len;
  int cb = 0;
  static const char *const kind[] = {"mailbox", "delayed", "egress"};
  if (k == 0 && v->mailbox) {
    const uint8_t *inv = col_blob(st, 2, &len);
    cb = v->mailbox(v->ctx, seq, col_text(st, 1), inv, len);
  } else if (k == 1 && v->delayed) {
    const uint8_t *inv = col_blob(st, 5, &len);
    cb = v->delayed(v->ctx, seq, sqlite3_column_int64(st, 1), col_text(st, 2),
                    col_text(st, 3), col_text(st, 4), inv, len);
  } else if (k == 2 && v->egress) {
    const uint8_t *val = col_blob(st, 5, &len);
    cb = v->egress(v->ctx, seq, col_text(st, 1), col_text(st, 2),
                   col_text(st, 3), col_text(st, 4), val, len);
  }
  if (cb != 0) {
    set_err(s, "%s: load stopped by the %s visitor at seq %llu (%d)", s->path,
            kind[k], (unsigned long long)seq, cb);
    return -1;
  }
  return 0;
}

/* Mailbox, delayed and egress rows merged into one ascending seq order: the
 * order the engine created them in. */
static int visit_seq_ordered(sfl_store *s, const sfl_store_visitor *v,
                             uint64_t *max_seq) {
  sqlite3_stmt *st[3] = {s->st[ST_LOAD_MAILBOX], s->st[ST_LOAD_DELAYED],
                         s->st[ST_LOAD_EGRESS]};
  bool live[3];
  int rc = 0;
  for (int k = 0; k < 3; k++) {
    int r = sqlite3_step(st[k]);
    live[k] = r == SQLITE_ROW;
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
      db_err(s);
      rc = -1;
    }
  }
  while (rc == 0) {
    int next = -1;
    uint64_t best = 0;
    for (int k = 0; k < 3; k++) {
      if (!live[k]) continue;
      uint64_t seq = (uint64_t)sqlite3_column_int64(st[k], 0);
      if (next < 0 || seq < best) {
        next = k;
        best = seq;
      }
    }
    if (next < 0) break;
    if (best > *max_seq) *max_seq = best;
    rc = visit_row(s, v, next, st[next]);
    if (rc != 0) break;
    int r = sqlite3_step(st[next]);
    live[next] = r == SQLITE_ROW;
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
      db_err(s);
      rc = -1;
    }
  }
  for (int k = 0; k < 3; k++) sqlite3_reset(st[k]);
  return rc;
}

int sfl_store_load(sfl_store *s, const sfl_store_visitor *v,
                   uint64_t *max_seq) {
  static const sfl_store_visitor none = {0};
  if (!v) v = &none;
  /* One read transaction: the load sees a single consistent snapshot. */
  bool own = !s->in_txn;
  if (own && exec_stmt(s, s->st[ST_BEGIN_READ]) != 0) return -1;
  uint64_t max = s->in_txn ? s->txn_max_seq : s->max_seq;
  int rc = visit_state(s, v);
  if (rc == 0) rc = visit_seq_ordered(s, v, &max);
  if (own) {
    if (rc == 0) {
      rc = exec_stmt(s, s->st[ST_COMMIT]);
    } else {
      char saved[sizeof s->err];
      memcpy(saved, s->err, sizeof saved);
      exec_stmt(s, s->st[ST_COMMIT]);
      memcpy(s->err, saved, sizeof saved);
    }
  }
  if (rc == 0 && max_seq) *max_seq = max;
  return rc;
}

/* ---- open / close -------------------------------------------------------- */

static char *path_join(const char *dir, const char *name) {
  size_t n = strlen(dir) + 1 + strlen(name) + 1;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s", dir, name);
  return p;
}

/* mkdir -p */
static int make_dirs(sfl_store *s, const char *dir) {
  char *p = strdup(dir);
  if (!p) {
    set_err(s, "%s: out of memory", dir);
    return -1;
  }
  for (char *c = p + 1;; c++) {
    if (*c != '/' && *c != '\0') continue;
    char saved = *c;
    *c = '\0';
    if (mkdir(p, 0755) != 0 && errno != EEXIST) {
      set_err(s, "%s: cannot create directory: %s", p, strerror(errno));
      free(p);
      return -1;
    }
    *c = saved;
    if (saved == '\0') break;
  }
  free(p);
  struct stat sb;
  if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
    set_err(s, "%s: not a directory", dir);
    return -1;
  }
  return 0;
}

/* Takes DIR/LOCK (flock, released by the kernel when the process dies) and
 * writes our pid into it for the message the next one gets. */
static int take_lock(sfl_store *s) {
  char *lock_path = path_join(s->dir, SFL_STORE_LOCK_NAME);
  if (!lock_path) {
    set_err(s, "%s: out of memory", s->dir);
    return -1;
  }
  int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    set_err(s, "%s: %s", lock_path, strerror(errno));
    free(lock_path);
    return -1;
  }
  free(lock_path);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    if (e == EWOULDBLOCK) {
      char buf[32] = {0};
      ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
      long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
      if (pid > 0)
        set_err(s, "%s is in use by another sf-local (pid %ld)", s->dir, pid);
      else
        set_err(s, "%s is in use by another sf-local (pid unknown)", s->dir);
    } else {
      set_err(s, "%s/" SFL_STORE_LOCK_NAME ": flock: %s", s->dir,
              strerror(e));
    }
    close(fd);
    return -1;
  }
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
    /* The pid is only for the message; the lock is what matters. */
  }
  s->lock_fd = fd;
  return 0;
}

/* Creates the schema in a new database, or checks the version of an
 * existing one. */
static int check_schema(sfl_store *s) {
  int64_t n = 0, version = 0;
  int found;
  if (query_i64(s,
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                "AND name = 'meta'",
                &n, &found) != 0)
    return -1;
  if (n == 0) {
    if (query_i64(s, "SELECT count(*) FROM sqlite_master", &n, &found) != 0)
      return -1;
    if (n != 0) {
      set_err(s, "%s: not an sf-local database (no meta table)", s->path);
      return -1;
    }
    char sql[sizeof schema_sql + 128];
    snprintf(sql, sizeof sql,
             "BEGIN IMMEDIATE;%sINSERT INTO meta VALUES('schema_version', %d);"
             "INSERT INTO meta VALUES('max_seq', 0);COMMIT;",
             schema_sql, SFL_STORE_SCHEMA_VERSION);
    if (exec_sql(s, sql) != 0) {
      sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
      return -1;
    }
    return 0;
  }
  if (query_i64(s, "SELECT value FROM meta WHERE key = 'schema_version'",
                &version, &found) != 0)
    return -1;
  if (!found) {
    set_err(s, "%s: not an sf-local database (no schema_version)", s->path);
    return -1;
  }
  if (version != SFL_STORE_SCHEMA_VERSION) {
    set_err(s,
            "%s: schema version %lld, but this sf-local reads version %d "
            "(use the sf-local that wrote it, or a new --data dir)",
            s->path, (long long)version, SFL_STORE_SCHEMA_VERSION);
    return -1;
  }
  return 0;
}

/* max_seq = the larger of meta's and the largest seq of any row. */
static int read_max_seq(sfl_store *s) {
  static const char *const sql[] = {
      "SELECT value FROM meta WHERE key = 'max_seq'",
      "SELECT max(seq) FROM mailbox",
      "SELECT max(seq) FROM delayed",
      "SELECT max(seq) FROM egress",
  };
  s->max_seq = 0;
  for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
    int64_t v = 0;
    int found;
    if (query_i64(s, sql[i], &v, &found) != 0) return -1;
    if (found && v > 0 && (uint64_t)v > s->max_seq) s->max_seq = (uint64_t)v;
  }
  s->txn_max_seq = s->max_seq;
  return 0;
}

/* The -wal file exists once the database was read in WAL mode (by
 * check_schema). SQLite keeps it (same inode) while the connection is open. */
static int open_wal_fd(sfl_store *s) {
  size_t n = strlen(s->path) + sizeof "-wal";
  char *wal = malloc(n);
  if (wal) snprintf(wal, n, "%s-wal", s->path);
  s->wal_fd = wal ? open(wal, O_RDONLY | O_CLOEXEC) : -1;
  if (s->wal_fd < 0) {
    set_err(s, "%s-wal: %s", s->path, wal ? strerror(errno) : "out of memory");
    free(wal);
    return -1;
  }
  free(wal);
  return 0;
}

static int open_db(sfl_store *s) {
  int rc = sqlite3_open_v2(
      s->path, &s->db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
      NULL);
  if (rc != SQLITE_OK) {
    if (s->db)
      db_err(s);
    else
      set_err(s, "%s: %s", s->path, sqlite3_errstr(rc));
    return -1;
  }
  sqlite3_extended_result_codes(s->db, 1);
  if (sqlite3_busy_timeout(s->db, SFL_STORE_BUSY_TIMEOUT_MS) != SQLITE_OK) {
    db_err(s);
    return -1;
  }
  /* journal_mode answers with the mode it ended up in. */
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) !=
      SQLITE_OK) {
    db_err(s);
    return -1;
  }
  rc = sqlite3_step(st);
  const char *mode =
      rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
  if (rc != SQLITE_ROW) {
    db_err(s);
  } else if (!mode || strcmp(mode, "wal") != 0) {
    set_err(s, "%s: cannot switch to WAL journal mode (got %s)", s->path,
            mode ? mode : "nothing");
    rc = SQLITE_ERROR;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW) return -1;
  if (exec_sql(s, "PRAGMA synchronous=NORMAL") != 0) return -1;
  if (check_schema(s) != 0) return -1;
  if (open_wal_fd(s) != 0) return -1;
  for (int i = 0; i < ST_COUNT; i++) {
    if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                           &s->st[i], NULL) != SQLITE_OK) {
      db_err(s);
      return -1;
    }
  }
  if (read_max_seq(s) != 0) return -1;
  /* A run that accepts fewer than DEDUP_TRIM_EVERY keys never trims, so
   * trim once at every open as well. */
  return dedup_trim(s);
}

sfl_store *sfl_store_open(const char *dir, char *err, size_t err_len) {
  sfl_store *s = calloc(1, sizeof *s);
  if (!s) {
    if (err && err_len) snprintf(err, err_len, "%s: out of memory", dir);
    return NULL;
  }
  s->lock_fd = -1;
  s->wal_fd = -1;
  if (!dir || !*dir) {
    set_err(s, "no data directory given");
    goto fail;
  }
  s->dir = strdup(dir);
  s->path = path_join(dir, SFL_STORE_DB_NAME);
  if (!s->dir || !s->path) {
    set_err(s, "%s: out of memory", dir);
    goto fail;
  }
  if (make_dirs(s, dir) != 0 || take_lock(s) != 0 || open_db(s) != 0)
    goto fail;
  return s;
fail:
  if (err && err_len) snprintf(err, err_len, "%s", s->err);
  sfl_store_close(s);
  return NULL;
}

void sfl_store_close(sfl_store *s) {
  if (!s) return;
  if (s->db && s->in_txn) sfl_store_rollback(s);
  for (int i = 0; i < ST_COUNT; i++) sqlite3_finalize(s->st[i]);
  /* sqlite3_close (not _v2): every statement is finalized above, so this
   * closes for real, checkpointing the WAL when we are the last user. */
  if (s->db) sqlite3_close(s->db);
  if (s->wal_fd >= 0) close(s->wal_fd);
  if (s->lock_fd >= 0) close(s->lock_fd); /* releases the flock */
  free(s->path);
  free(s->dir);
  free(s);
}
