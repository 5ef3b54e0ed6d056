"""Protobuf wire format by hand (PROTOCOL.md sec. 1): varints, zigzag,
field keys and length-delimited fields, a field reader, and the bytes of
the StateFun built-in wrapper types (io.statefun.types/*).

The drivers encode by hand where they must not depend on the protobuf
package (the stdlib-only drivers, deploy/local/kafka_tool.py) or where
the test is about the exact bytes.
"""
import struct

VARINT, I64, LEN, I32 = 0, 1, 2, 5


def varint(n):
    """Base-128 varint; a negative int32/int64 as its 64-bit two's
    complement (ten bytes), as protobuf writes it."""
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_varint(buf, i):
    """The varint at buf[i:]: (value, index after it). ValueError when it
    is truncated or longer than ten bytes."""
    shift = n = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        if not b & 0x80:
            return n, i
        shift += 7
        if shift >= 70:
            raise ValueError("varint too long")


def zigzag(n, bits):
    """sint32/sint64 encoding of n (bits: 32 or 64)."""
    return ((n << 1) ^ (n >> (bits - 1))) & ((1 << bits) - 1)


def unzigzag(n):
    return (n >> 1) ^ -(n & 1)


def key(field, wt):
    """The tag of a field: field number and wire type."""
    return varint((field << 3) | wt)


def f_len(field, data):
    """A length-delimited field (always written)."""
    return key(field, LEN) + varint(len(data)) + data


def f_str(field, s, always=False):
    """A string/bytes field; proto3 leaves out an empty one unless always."""
    data = s.encode() if isinstance(s, str) else bytes(s)
    return f_len(field, data) if (data or always) else b""


def f_varint(field, n, always=False):
    """A varint field; proto3 leaves out 0 unless always."""
    return key(field, VARINT) + varint(n) if (n or always) else b""


def fields(buf):
    """Yields (field, wire_type, value): ints for varint, bytes for
    fixed32/fixed64/LEN. ValueError on a truncated or unknown field."""
    i = 0
    while i < len(buf):
        k, i = read_varint(buf, i)
        field, wt = k >> 3, k & 7
        if wt == VARINT:
            v, i = read_varint(buf, i)
        elif wt == I64:
            v, i = buf[i:i + 8], i + 8
        elif wt == I32:
            v, i = buf[i:i + 4], i + 4
        elif wt == LEN:
            n, i = read_varint(buf, i)
            v, i = buf[i:i + n], i + n
        else:
            raise ValueError("wire type %d" % wt)
        if i > len(buf):
            raise ValueError("truncated field %d" % field)
        yield field, wt, v


# ---- StateFun wrappers (types.proto); proto3: the zero value is no bytes ----

def string_wrapper(s):
    """io.statefun.types/string: StringWrapper{string value = 1}."""
    return f_str(1, s)


def int_wrapper(n):
    """io.statefun.types/int: IntWrapper{sfixed32 value = 1}."""
    return b"\x0d" + struct.pack("<i", n) if n else b""


def long_wrapper(n):
    """io.statefun.types/long: LongWrapper{sfixed64 value = 1}."""
    return b"\x09" + struct.pack("<q", n) if n else b""


def bool_wrapper(b):
    """io.statefun.types/bool: BooleanWrapper{bool value = 1}."""
    return b"\x08\x01" if b else b""
