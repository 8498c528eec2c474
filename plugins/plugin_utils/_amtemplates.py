# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0
"""Alertmanager notification templates: the role's shipped ones and the user's (alertmanager_templates).

Every template is written as ``<templates dir>/<name>.tmpl``, the shipped ones
(``roles/alertmanager/files/<name>.tmpl``) and the user's alike, so a user template named like a
shipped one would be the same file: one of the two would silently replace the other. Such a name
is refused with a message naming the variable.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# The templates the alertmanager role ships (roles/alertmanager/files/<name>.tmpl).
SHIPPED = ("fleetwatch",)


class TemplateError(Exception):
    pass


def shipped_templates(files_dir):
    """{name: content} of the shipped templates found in files_dir (the role's files/)."""
    found = {}
    for name in SHIPPED:
        try:
            with open(os.path.join(files_dir, name + ".tmpl")) as handle:
                found[name] = handle.read()
        except (IOError, OSError):
            continue
    return found


def _same(a, b):
    # The role reads the shipped file with lookup('file'), which drops trailing whitespace.
    return str(a).rstrip() == str(b).rstrip()


def check_template(name, content, shipped):
    """Refuse an invalid name, and a template named like a shipped one that is not the shipped one.

    shipped: {name: content} of the shipped templates (see shipped_templates). The shipped entry
    itself passes (same name, same content); so does a user template that is a verbatim copy of
    it (harmless, and service_setup refuses the duplicate path).
    """
    name = str(name)
    if not NAME_RE.match(name):
        raise TemplateError("invalid Alertmanager template name %r (alertmanager_templates: letters, digits, '_', '.', '-')"
                            % name)
    if name in shipped and not _same(content, shipped[name]):
        defines = _defines(shipped[name])
        raise TemplateError(
            "alertmanager_templates: %r is the name of the template the alertmanager role ships (%s.tmpl%s); "
            "yours would be written to the same file, one replacing the other. Give yours another name in "
            "alertmanager_templates, for example %r." % (
                name, name, ", defining %s" % ", ".join(defines) if defines else "", "my_" + name))
    return name


def _defines(text):
    return re.findall(r'\{\{-?\s*define\s+"([^"]+)"', text or "")
