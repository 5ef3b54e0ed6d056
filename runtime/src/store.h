/*
 * store.h - sf-local's durable store (--data DIR).
 *
 * The engine keeps everything in memory; with --data it also writes every
 * change here, and at start-up it reloads what the store holds. Changes are
 * grouped in transactions: the engine opens one, applies every effect of an
 * accepted function response (or of one ingress message), and commits; a
 * commit returns only when the data is on disk. Whatever was committed
 * survives kill -9; whatever was not never happened.
 *
 * Keys: an address is "namespace/type/id" (the id may contain '/').
 * Sequence numbers are the engine's; they order mailbox, delayed and egress
 * entries and never repeat (the store remembers the highest one).
 * Every function returns 0 on success and -1 on failure, with a message in
 * sfl_store_error().
 */
#ifndef SF_LOCAL_STORE_H
#define SF_LOCAL_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct sfl_store sfl_store;

/* Opens or creates DIR/sf-local.db (creating DIR if needed). NULL on failure
 * with a reason in err. */
sfl_store *sfl_store_open(const char *dir, char *err, size_t err_len);
void sfl_store_close(sfl_store *s);
const char *sfl_store_error(const sfl_store *s);

int sfl_store_begin(sfl_store *s);
int sfl_store_commit(sfl_store *s);   /* durable (fsync) when it returns 0 */
/* The two halves of sfl_store_commit, for a caller that syncs without its
 * lock: commits (the WAL written, not synced) and answers 1 when a sync is
 * needed before the transaction counts as durable, 0 when it changed
 * nothing, -1 on failure (rolled back). sfl_store_sync fdatasync()s the WAL
 * and answers 0 or an errno; it touches nothing the connection uses, so it
 * may run while another thread uses the store (one sync at a time). */
int sfl_store_commit_unsynced(sfl_store *s);
int sfl_store_sync(sfl_store *s);
/* Test hook: fn(ctx) runs at the start of every sfl_store_sync, on the
 * syncing thread, before the fdatasync (tests hold a sync open with it to
 * check what happens meanwhile). Set it before any thread syncs. */
typedef void sfl_store_sync_hook(void *ctx);
void sfl_store_set_sync_hook(sfl_store *s, sfl_store_sync_hook *fn, void *ctx);
int sfl_store_rollback(sfl_store *s);

/* A message waiting for (or in flight to) an address: the serialized
 * ToFunction.Invocation (caller + argument). */
int sfl_store_mailbox_put(sfl_store *s, uint64_t seq, const char *addr,
                          const uint8_t *inv, size_t len);
int sfl_store_mailbox_del(sfl_store *s, uint64_t seq);

/* The value of one state of an address, with its typename and the time it
 * expires (ms since the epoch, 0 = never). */
int sfl_store_state_put(sfl_store *s, const char *addr, const char *name,
                        const char *typename, const uint8_t *value, size_t len,
                        int64_t expire_at_ms);
int sfl_store_state_del(sfl_store *s, const char *addr, const char *name);

/* A delayed message: due at fire_at_ms to `target` (an address), sent by
 * `owner` (the sender's id, which scopes the token; "" when untokened). */
int sfl_store_delayed_put(sfl_store *s, uint64_t seq, int64_t fire_at_ms,
                          const char *target, const char *owner,
                          const char *token, const uint8_t *inv, size_t len);
int sfl_store_delayed_del(sfl_store *s, uint64_t seq);

/* An egress record not yet read: egress id, topic (Kafka topic, Kinesis
 * stream, or "" for a generic egress), key, and value bytes, plus the
 * TypedValue typename it came with. */
int sfl_store_egress_put(sfl_store *s, uint64_t seq, const char *egress_id,
                         const char *topic, const char *key,
                         const char *typename, const uint8_t *value,
                         size_t len);
int sfl_store_egress_del(sfl_store *s, uint64_t seq);

/* Idempotency keys of ingress messages already accepted (the newest
 * `keep` are kept). */
int sfl_store_dedup_put(sfl_store *s, const char *key, int64_t at_ms);
/* 1 if present, 0 if not, -1 on error. */
int sfl_store_dedup_has(sfl_store *s, const char *key);

/* Everything the store holds, delivered in seq order (state in any order).
 * A callback returning non-zero stops the load with that error. */
typedef struct sfl_store_visitor {
  void *ctx;
  int (*mailbox)(void *ctx, uint64_t seq, const char *addr, const uint8_t *inv,
                 size_t len);
  int (*state)(void *ctx, const char *addr, const char *name,
               const char *typename, const uint8_t *value, size_t len,
               int64_t expire_at_ms);
  int (*delayed)(void *ctx, uint64_t seq, int64_t fire_at_ms,
                 const char *target, const char *owner, const char *token,
                 const uint8_t *inv, size_t len);
  int (*egress)(void *ctx, uint64_t seq, const char *egress_id,
                const char *topic, const char *key, const char *typename,
                const uint8_t *value, size_t len);
} sfl_store_visitor;

int sfl_store_load(sfl_store *s, const sfl_store_visitor *v,
                   uint64_t *max_seq);

#endif
