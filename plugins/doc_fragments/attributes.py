# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0
"""Descriptions of the attributes the collection's modules document (each module gives the support)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # Every module: check mode, diff mode, platform.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying the target.
  diff_mode:
    description: Returns details on what has changed (or would change in C(check_mode)) when in diff mode.
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
"""

    # Modules with an action plugin that does part of the work on the controller.
    ACTION = r"""
options: {}
attributes:
  action:
    description: Has a corresponding action plugin, so some parts of the options are executed on the controller.
"""
