/*
 * wire_diff.h - the differential check of the hot path's ToFunction decoder
 * (sdk/src/wire_decode.c) against protobuf-c, shared by the fuzz target
 * fuzz_wire and the unit test tests/unit/test_wire.c.
 */
#ifndef SF_FUZZ_WIRE_DIFF_H
#define SF_FUZZ_WIRE_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes data[0..len) with protobuf-c and with sf_wire_decode_to_function
 * (UTF-8 check off, then on). NULL when they agree: the same accept/reject,
 * the same content when accepted, and with the UTF-8 check on, a refusal
 * only where a string is not UTF-8. Else a static text saying what differs.
 * *accepted (may be NULL) says whether protobuf-c accepted the input. */
const char *wire_diff(const uint8_t *data, size_t len, bool *accepted);

#endif
