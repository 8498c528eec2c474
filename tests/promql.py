# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0
"""The series selectors of a PromQL expression, without a full parser.

Used to prove that every selector of a rule bundle matches series on a live Prometheus (a rule
whose selector matches nothing can never fire). Function names, aggregation clauses
(``by (...)``, ``on (...)``...), keywords, strings, numbers and durations are skipped; what is
left is each metric name with its ``{...}`` matchers, or a bare ``{...}`` selector.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

KEYWORDS = frozenset(("and", "or", "unless", "bool", "offset", "inf", "nan"))
CLAUSES = frozenset(("by", "without", "on", "ignoring", "group_left", "group_right"))
IDENT_START = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_:"
IDENT = IDENT_START + "0123456789"


class PromQLError(Exception):
    pass


def _string_end(text, i):
    quote = text[i]
    i += 1
    while i < len(text):
        if text[i] == "\\" and quote != "`":
            i += 2
            continue
        if text[i] == quote:
            return i + 1
        i += 1
    raise PromQLError("unterminated string in %r" % text)


def _block_end(text, i, opening, closing):
    depth = 0
    while i < len(text):
        char = text[i]
        if char in "\"'`":
            i = _string_end(text, i)
            continue
        if char == opening:
            depth += 1
        elif char == closing:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise PromQLError("unbalanced %s%s in %r" % (opening, closing, text))


def _skip_space(text, i):
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def _word_at(text, i):
    end = i
    while end < len(text) and text[end] in IDENT:
        end += 1
    return text[i:end]


def selectors(expr):
    """Return the selectors of ``expr`` in order of appearance (duplicates kept once)."""
    text = str(expr)
    found = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace() or char in "()+-*/%^=!<>,@":
            i += 1
        elif char == "#":
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
        elif char in "\"'`":
            i = _string_end(text, i)
        elif char == "[":
            i = _block_end(text, i, "[", "]")
        elif char == "{":
            end = _block_end(text, i, "{", "}")
            found.append(text[i:end])
            i = end
        elif char.isdigit() or char == ".":
            while i < len(text) and (text[i].isalnum() or text[i] == "."):
                i += 1
        elif char in IDENT_START:
            start = i
            while i < len(text) and text[i] in IDENT:
                i += 1
            name = text[start:i]
            after = _skip_space(text, i)
            nxt = text[after] if after < len(text) else ""
            if name in CLAUSES:
                if nxt == "(":
                    i = _block_end(text, after, "(", ")")
            elif name.lower() in KEYWORDS or nxt == "(" or _word_at(text, after) in ("by", "without"):
                pass  # a keyword, a function, or an aggregation with its clause first
            elif nxt == "{":
                end = _block_end(text, after, "{", "}")
                found.append(name + text[after:end])
                i = end
            else:
                found.append(name)
        else:
            raise PromQLError("unexpected %r at %d in %r" % (char, i, text))
    unique = []
    for item in found:
        if item not in unique:
            unique.append(item)
    return unique
