/*
 * test_buf.c - sfbase's growable buffer (sfb/buf.h): growth across many
 * appends, the protobuf field writers' exact bytes, out of memory.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "sfb/buf.h"
#include "sfb/pbwire.h"

Test(buf, grows_and_keeps_bytes) {
  sfb_buf b = {0};
  for (int i = 0; i < 10000; i++) {
    uint8_t c = (uint8_t)i;
    sfb_buf_put(&b, &c, 1);
  }
  cr_assert_not(b.oom);
  cr_assert_eq(b.len, 10000);
  for (int i = 0; i < 10000; i++) cr_assert_eq(b.p[i], (uint8_t)i);
  sfb_buf_reset(&b);
  cr_assert_eq(b.len, 0);
  cr_assert(b.cap >= 10000);
  sfb_buf_free(&b);
  cr_assert(b.p == NULL && b.cap == 0);
}

Test(buf, field_writers) {
  sfb_buf b = {0};
  sfb_buf_len_field(&b, 1, "abc", 3);
  sfb_buf_len_field(&b, 2, "", 0); /* written even when empty */
  sfb_buf_tag(&b, 3, SFB_WT_VARINT);
  sfb_buf_varint(&b, 300);
  sfb_buf_fixed32_field(&b, 4, 1);
  sfb_buf_fixed64_field(&b, 5, 2);
  const uint8_t want[] = {0x0A, 3, 'a', 'b', 'c', 0x12, 0, 0x18, 0xAC, 0x02,
                          0x25, 1, 0, 0, 0, 0x29, 2, 0, 0, 0, 0, 0, 0, 0};
  cr_assert_eq(b.len, sizeof want);
  cr_assert_arr_eq(b.p, want, sizeof want);
  sfb_buf_free(&b);
}

Test(buf, oom_makes_writes_no_ops) {
  sfb_buf b = {0};
  sfb_buf_put(&b, "ab", 2);
  b.oom = true;
  sfb_buf_put(&b, "cd", 2);
  cr_assert_eq(b.len, 2);
  sfb_buf_reset(&b);
  cr_assert_not(b.oom, "reset clears oom");
  sfb_buf_put(&b, "ef", 2);
  cr_assert(b.len == 2 && memcmp(b.p, "ef", 2) == 0);
  sfb_buf_free(&b);
}
