# -*- coding: utf-8 -*-
# Copyright: fleetwatch engineers
# SPDX-License-Identifier: Apache-2.0
"""Credentials out of a Prometheus-style configuration: each secret moves to a file.

``externalise(config, secrets_dir)`` walks a configuration structure (Prometheus' remote_write,
remote_read, scrape_configs, alerting.alertmanagers and everything in them: service discovery
configs, OAuth 2.0, TLS, HTTP headers; Alertmanager's http_config has the same shape) and returns
``(config, secret_files)``: the same structure with every credential replaced by its ``*_file``
field pointing at ``<secrets_dir>/<where it was>.password``, and the list of ``{path, content}``
files to write. The configuration can then be shown (``--diff``, the web UI) without a secret.

The secret fields, from Prometheus' configuration reference (every ``<secret>`` there):

* ``basic_auth.password`` -> ``password_file``; ``authorization.credentials`` -> ``credentials_file``;
  ``bearer_token`` (deprecated) -> ``bearer_token_file``;
* ``oauth2.client_secret`` -> ``client_secret_file``, ``oauth2.client_certificate_key`` ->
  ``client_certificate_key_file``; ``tls_config.key`` -> ``key_file``;
* ``http_headers.<name>.secrets`` -> ``files``;
* ``marathon_sd_configs[].auth_token`` -> ``auth_token_file``; ``scaleway_sd_configs[].secret_key``
  and ``outscale_sd_configs[].secret_key`` -> ``secret_key_file``; ``oci_sd_configs[].key_passphrase``
  -> ``key_passphrase_file``;
* AWS keys (``sigv4``, ``ec2_sd_configs``, ``lightsail_sd_configs``: ``access_key`` + ``secret_key``),
  which Prometheus cannot read from a file of their own: both move into one AWS shared credentials
  file (``aws_credentials.password``) under a profile named after their place, and the config names
  that ``profile``. The service needs ``AWS_SHARED_CREDENTIALS_FILE`` pointing at it (``environment``).

Secrets Prometheus can only take inline (azure_sd ``client_secret``, consul_sd ``token``/``password``,
openstack_sd ``password``/``application_credential_secret``, ovhcloud_sd ``application_secret``/
``consumer_key``, uyuni_sd ``password``, azuread ``oauth.client_secret``/``certificate.certificate_password``,
``proxy_connect_header``), credentials in a URL (``https://user:pass@host``), and any other field named
like a secret are errors: they would end up in the configuration file in plain text.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import hashlib
import re
from collections.abc import Mapping

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover - Python 2
    from urlparse import urlsplit

# parent key (the mapping the field is in, or the list of such mappings) -> {secret field: file field}
FILE_FIELDS = {
    "basic_auth": {"password": "password_file"},
    "authorization": {"credentials": "credentials_file"},
    "oauth2": {"client_secret": "client_secret_file", "client_certificate_key": "client_certificate_key_file"},
    "tls_config": {"key": "key_file"},
    "marathon_sd_configs": {"auth_token": "auth_token_file"},
    "scaleway_sd_configs": {"secret_key": "secret_key_file"},
    "outscale_sd_configs": {"secret_key": "secret_key_file"},
    "oci_sd_configs": {"key_passphrase": "key_passphrase_file"},
}
# In any mapping (every HTTP client config: scrape, remote write/read, alertmanager, service discovery).
ANYWHERE = {"bearer_token": "bearer_token_file"}
AWS_PARENTS = ("sigv4", "ec2_sd_configs", "lightsail_sd_configs")
AWS_FILE = "aws_credentials.password"
AWS_ENV = "AWS_SHARED_CREDENTIALS_FILE"
# Secrets without a file form in Prometheus: what to do instead.
NO_FILE = {
    "azure_sd_configs": {"client_secret": "use authentication_method ManagedIdentity or SDK (environment) instead"},
    "consul_sd_configs": {"token": "give the token as authorization: {credentials: ...} (Consul accepts a Bearer token)",
                          "password": "use basic_auth: {username: ..., password: ...} instead"},
    "openstack_sd_configs": {"password": "use application credentials from the environment (clouds.yaml) instead",
                             "application_credential_secret": "use clouds.yaml / the OS_* environment of the service"},
    "ovhcloud_sd_configs": {"application_secret": "Prometheus has no file form for it",
                            "consumer_key": "Prometheus has no file form for it"},
    "uyuni_sd_configs": {"password": "Prometheus has no file form for it"},
    "oauth": {"client_secret": "use managed_identity, workload_identity or sdk authentication instead"},
    "certificate": {"certificate_password": "use an unencrypted key (certificate_key_path) readable by the service only"},
}
# Names that are secrets wherever they appear (a field not handled above is an error, not a leak).
SECRET_NAMES = frozenset((
    "password", "secret", "secrets", "token", "credentials", "client_secret", "secret_key", "auth_token",
    "bearer_token", "key", "api_key", "application_secret", "consumer_key", "certificate_password",
    "key_passphrase", "client_certificate_key", "application_credential_secret", "private_key",
))
# Subtrees without secrets whose keys are the user's own names (labels, relabel rules, URL params).
PLAIN_SUBTREES = frozenset((
    "static_configs", "relabel_configs", "metric_relabel_configs", "write_relabel_configs", "alert_relabel_configs",
    "labels", "external_labels", "params", "headers", "queue_config", "metadata_config", "selectors",
))
NAME_RE = re.compile(r"[^A-Za-z0-9_.-]")


class SecretFieldError(ValueError):
    pass


def _show(path):
    out = ""
    for part in path:
        out += "[%d]" % part if isinstance(part, int) else ("." + str(part) if out else str(part))
    return out or "(top)"


def _secret_text(value, path):
    """The secret as text; None for unset (None or "")."""
    if value is None:
        return None
    if isinstance(value, bool) or isinstance(value, (dict, list, tuple, set)):
        raise SecretFieldError("%s must be a string (the secret itself), not %s" % (_show(path), type(value).__name__))
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)  # also decrypts a vaulted value
    return text if text != "" else None


class _Walker(object):
    def __init__(self, secrets_dir):
        if not isinstance(secrets_dir, str) or not secrets_dir.startswith("/"):
            raise SecretFieldError("the secrets directory must be an absolute path, not %r" % (secrets_dir,))
        self.dir = secrets_dir.rstrip("/")
        self.files = []
        self.paths = {}
        self.aws = []

    def file_for(self, name_parts, content):
        name = "-".join(NAME_RE.sub("_", str(p)) for p in name_parts if str(p) != "")
        if len(name) > 180:
            name = name[:160] + "-" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:12]
        path = "%s/%s.password" % (self.dir, name)
        if path in self.paths:
            raise SecretFieldError("two secrets would share the file %s (%s and %s): give the entries distinct names"
                                   % (path, self.paths[path], "-".join(map(str, name_parts))))
        self.paths[path] = "-".join(map(str, name_parts))
        self.files.append({"path": path, "content": content})
        return path

    def walk(self, node, parent, path, names):
        if isinstance(node, dict):
            return self.mapping(node, parent, path, names)
        if isinstance(node, (list, tuple)):
            out = []
            for index, item in enumerate(node):
                label = index
                if isinstance(item, dict):
                    ident = item.get("job_name") or item.get("name")
                    if isinstance(ident, str) and ident:
                        label = "%d-%s" % (index, ident)
                out.append(self.walk(item, parent, path + [index], names + [label]))
            return out
        if isinstance(node, str) and parent is not None and str(parent).endswith("url"):
            self.check_url(node, path)
        return node

    def check_url(self, text, path):
        try:
            parts = urlsplit(text)
        except ValueError:
            return
        if parts.password:
            raise SecretFieldError("%s carries a password in the URL (user:password@): put the credentials in basic_auth, "
                                   "which is moved to a file, and remove them from the URL" % _show(path))

    def mapping(self, node, parent, path, names):
        node = dict(node)
        if parent in PLAIN_SUBTREES:
            return node
        if parent == "http_headers":
            return self.headers(node, path, names)
        if parent == "proxy_connect_header" and node:
            raise SecretFieldError("%s: Prometheus cannot read proxy CONNECT header values from a file, so they would be "
                                   "written into the configuration; use a proxy that needs no secret header" % _show(path))
        if parent in AWS_PARENTS:
            self.aws_keys(node, path, names)
        fields = dict(ANYWHERE)
        fields.update(FILE_FIELDS.get(parent, {}))
        for field, file_field in sorted(fields.items()):
            if field not in node:
                continue
            text = _secret_text(node.pop(field), path + [field])
            if text is None:
                continue
            if node.get(file_field) not in (None, ""):
                raise SecretFieldError("%s and %s are both set: give one" % (_show(path + [field]), _show(path + [file_field])))
            node[file_field] = self.file_for(names + [field], text)
        for field, advice in sorted(NO_FILE.get(parent, {}).items()):
            if node.get(field) not in (None, ""):
                raise SecretFieldError("%s: Prometheus cannot read it from a file, so it would be written into the "
                                       "configuration in plain text: %s" % (_show(path + [field]), advice))
        out = {}
        for key in node:
            value = node[key]
            if key in SECRET_NAMES and value not in (None, "", [], {}) and not isinstance(value, dict):
                raise SecretFieldError("%s looks like a secret that fleetwatch cannot move to a file here (it would be "
                                       "written into the configuration in plain text); use the section's *_file field"
                                       % _show(path + [key]))
            out[key] = self.walk(value, key, path + [key], names + [key])
        return out

    def headers(self, node, path, names):
        out = {}
        for header, spec in node.items():
            where = path + [header]
            if not isinstance(spec, dict):
                raise SecretFieldError("%s must be a mapping {values, secrets, files}" % _show(where))
            spec = dict(spec)
            secrets = spec.pop("secrets", None) or []
            if not isinstance(secrets, (list, tuple)):
                raise SecretFieldError("%s.secrets must be a list" % _show(where))
            files = list(spec.get("files") or [])
            for index, secret in enumerate(secrets):
                text = _secret_text(secret, where + ["secrets", index])
                if text is not None:
                    files.append(self.file_for(names + [header, "secrets", index], text))
            if files:
                spec["files"] = files
            out[header] = spec
        return out

    def aws_keys(self, node, path, names):
        secret = _secret_text(node.pop("secret_key", None), path + ["secret_key"])
        if secret is None:
            return
        access = _secret_text(node.get("access_key"), path + ["access_key"])
        if access is None:
            raise SecretFieldError("%s is set without access_key: give both, or neither (default AWS credentials)"
                                   % _show(path + ["secret_key"]))
        if node.get("profile") not in (None, ""):
            raise SecretFieldError("%s: give either access_key/secret_key or a profile, not both" % _show(path))
        for text in (access, secret):
            if re.search(r"[\r\n\[\]]", text) or text != text.strip():
                raise SecretFieldError("%s: the AWS keys cannot contain line breaks, brackets or surrounding spaces" % _show(path))
        profile = "fleetwatch-" + "-".join(NAME_RE.sub("_", str(p)) for p in names)
        node.pop("access_key", None)
        node["profile"] = profile
        self.aws.append((profile, access, secret))

    def aws_file(self):
        if not self.aws:
            return None
        lines = ["# Managed by fleetwatch.observability: AWS keys of the configuration, one profile each."]
        for profile, access, secret in self.aws:
            lines += ["[%s]" % profile, "aws_access_key_id = %s" % access, "aws_secret_access_key = %s" % secret]
        path = "%s/%s" % (self.dir, AWS_FILE)
        self.files.append({"path": path, "content": "\n".join(lines) + "\n"})
        return path


def plain(value):
    """Ansible's (lazy, tagged) containers and strings as plain Python values (what the filters hand
    to this file and to amconfig)."""
    if isinstance(value, Mapping):
        return dict((str(k), plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def externalise(config, secrets_dir):
    """Return (config with every secret replaced by a *_file field, [{path, content}] secret files).

    The input is not modified. Raises SecretFieldError for a secret that cannot be moved to a file.
    """
    walker = _Walker(secrets_dir)
    result = walker.walk(copy.deepcopy(config), None, [], [])
    walker.aws_file()
    return result, walker.files


def environment(secret_files, secrets_dir):
    """Environment the service needs to read the secret files: AWS_SHARED_CREDENTIALS_FILE for AWS keys."""
    path = "%s/%s" % (str(secrets_dir).rstrip("/"), AWS_FILE)
    if any(f["path"] == path for f in secret_files or []):
        return {AWS_ENV: path}
    return {}
