# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: redis_quote
short_description: Quote a value for a redis.conf line
version_added: 0.2.0
author:
  - fleetwatch engineers (@fleetwatch)
description:
  - Returns the value as one double-quoted argument the way Redis' configuration parser reads it
    (as Redis' own C(CONFIG REWRITE) writes it) - C(\") and C(\\) escaped, control characters and
    non-ASCII bytes as C(\xHH) - so that a password with blanks, quotes, C($), backslashes or a
    leading C(#) reaches Redis unchanged instead of breaking the line (Redis then refuses to start
    and logs the whole line, password included).
options:
  _input:
    description: The value.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Redis' password in a config include
  ansible.builtin.copy:
    dest: /etc/redis/auth.conf
    content: "requirepass {{ redis_password | fleetwatch.observability.redis_quote }}\n"
    owner: redis
    group: redis
    mode: "0640"
  no_log: true
"""

RETURN = r"""
_value:
  description: The double-quoted value.
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetwatch.observability.plugins.plugin_utils import _redisconf as redisconf


def redis_quote(value):
    try:
        return redisconf.quote(value)
    except redisconf.RedisConfError as exc:
        raise AnsibleFilterError("redis_quote: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {"redis_quote": redis_quote}
