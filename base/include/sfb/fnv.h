/*
 * sfb/fnv.h - FNV-1a, the one string hash of the tree (Fowler/Noll/Vo,
 * 32- and 64-bit, over the bytes of a NUL-terminated string). Its values
 * are stable and some are shown or compiled into programs, so they must
 * never change: the 64-bit one gives OTLP span ids (sfb/otlp.h) and the
 * generated methods' layout hashes (sf-codegen; a frame persisted by an
 * older build is checked against them), the 32-bit one the await label ids
 * of the entity IR; the hash tables of sf-local and sf-gateway use the
 * 64-bit one for buckets. Inline because those tables hash on every lookup.
 */
#ifndef SFB_FNV_H
#define SFB_FNV_H

#include <stdint.h>

/* FNV-1a 64 of the string s ("" gives the offset basis). */
static inline uint64_t sfb_fnv1a64(const char *s) {
  uint64_t h = UINT64_C(14695981039346656037); /* offset basis */
  for (; *s != '\0'; s++) h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
  return h;
}

/* FNV-1a 32 of the string s ("" gives the offset basis). */
static inline uint32_t sfb_fnv1a32(const char *s) {
  uint32_t h = UINT32_C(2166136261); /* offset basis */
  for (; *s != '\0'; s++) h = (h ^ (unsigned char)*s) * UINT32_C(16777619);
  return h;
}

#endif /* SFB_FNV_H */
