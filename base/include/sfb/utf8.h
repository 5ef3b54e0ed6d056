/*
 * sfb/utf8.h - strict UTF-8 validation (no overlong forms, no surrogates,
 * nothing above U+10FFFF): the one validator of the tree. The SDK exports
 * it as sf_utf8_valid; the URL parts of sfb/urlpart.h use it directly.
 */
#ifndef SFB_UTF8_H
#define SFB_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when data[0..len) is well-formed UTF-8. */
bool sfb_utf8_valid(const void *data, size_t len);

#endif /* SFB_UTF8_H */
