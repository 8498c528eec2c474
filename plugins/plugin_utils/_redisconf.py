# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0
"""Values in redis.conf, quoted the way Redis reads them.

Redis splits each configuration line with sdssplitargs() (src/sds.c): a line whose first
non-blank character is ``#`` is a comment; arguments are separated by blanks; an argument in
double quotes may hold anything, with ``\\"``, ``\\\\``, ``\\n``, ``\\r``, ``\\t``, ``\\b``,
``\\a`` and ``\\xHH`` escapes, and its closing quote must be followed by a blank or the end of
the line. An unquoted password with a blank, a quote or a backslash breaks the line: Redis then
refuses to start and prints the whole line, password included, to its log (the journal).

quote() writes what Redis' own sdscatrepr() writes (as CONFIG REWRITE does); split_args() is a
port of sdssplitargs() to check that a line reads back as intended.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

_ESCAPES = {ord("\\"): "\\\\", ord('"'): '\\"', ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t",
            0x07: "\\a", 0x08: "\\b"}
_UNESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", "b": b"\b", "a": b"\a"}
_HEX = "0123456789abcdefABCDEF"
_BLANKS = " \n\r\t\v\f"


class RedisConfError(Exception):
    pass


def quote(value):
    """The value as one double-quoted argument of a redis.conf line (any text, also empty).

    Printable ASCII stays as it is, except ``"`` and ``\\``; control characters and every byte of
    a non-ASCII character (UTF-8) are escaped, so the line is plain ASCII.
    """
    if value is None:
        raise RedisConfError("no value to quote")
    if isinstance(value, bytes):
        data = value
    else:
        data = str(value).encode("utf-8")
    out = ['"']
    for byte in bytearray(data):
        if byte in _ESCAPES:
            out.append(_ESCAPES[byte])
        elif 0x20 <= byte <= 0x7E:
            out.append(chr(byte))
        else:
            out.append("\\x%02x" % byte)
    out.append('"')
    return "".join(out)


def config_line(directive, *values):
    """``directive "value" ...`` for redis.conf."""
    if not directive or any(c in _BLANKS + '"\'#\\' for c in str(directive)):
        raise RedisConfError("invalid directive name %r" % (directive,))
    return " ".join([str(directive)] + [quote(v) for v in values])


def split_args(line):
    """Arguments of one redis.conf line as Redis reads them (bytes), [] for a comment or a blank
    line; RedisConfError for what Redis refuses (unbalanced quotes, text after a closing quote)."""
    text = line.strip(" \t\r\n")
    if not text or text.startswith("#"):
        return []
    args = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in _BLANKS:
            i += 1
        if i >= n:
            return args
        current = bytearray()
        inq = insq = False
        while True:
            c = text[i] if i < n else None
            if inq:
                if c is None:
                    raise RedisConfError("unbalanced quotes")
                if c == "\\" and i + 3 < n and text[i + 1] == "x" and text[i + 2] in _HEX and text[i + 3] in _HEX:
                    current.append(int(text[i + 2:i + 4], 16))
                    i += 3
                elif c == "\\" and i + 1 < n:
                    i += 1
                    current += _UNESCAPES.get(text[i], text[i].encode("utf-8"))
                elif c == '"':
                    if i + 1 < n and text[i + 1] not in _BLANKS:
                        raise RedisConfError("closing quote must be followed by a space")
                    i += 1
                    break
                else:
                    current += c.encode("utf-8")
            elif insq:
                if c is None:
                    raise RedisConfError("unbalanced quotes")
                if c == "\\" and i + 1 < n and text[i + 1] == "'":
                    i += 1
                    current += b"'"
                elif c == "'":
                    if i + 1 < n and text[i + 1] not in _BLANKS:
                        raise RedisConfError("closing quote must be followed by a space")
                    i += 1
                    break
                else:
                    current += c.encode("utf-8")
            else:
                if c is None or c in _BLANKS:
                    break
                if c == '"':
                    inq = True
                elif c == "'":
                    insq = True
                else:
                    current += c.encode("utf-8")
            i += 1
        args.append(bytes(current))
