# SPDX-License-Identifier: Apache-2.0
"""Instances and environment files (module_utils/exporterinstances.py) and PostgreSQL login roles
(module_utils/pgroles.py) of the postgres_exporter and redis_exporter roles."""
import base64
import hashlib
import hmac

import pytest

from ansible_collections.fleetwatch.observability.plugins.filter import exporter_instances as filt
from ansible_collections.fleetwatch.observability.plugins.module_utils import exporterinstances as ei
from ansible_collections.fleetwatch.observability.plugins.module_utils import pgroles

from ansible.errors import AnsibleFilterError


def norm(instances, **kw):
    return ei.normalise(instances, "postgres_exporter", "0.0.0.0:9187", "/etc/postgres_exporter", **kw)


# --- instances -------------------------------------------------------------------------------------

def test_first_instance_is_the_main_service_on_the_role_address():
    first, second = norm([{"name": "main"}, {"name": "replica", "listen_address": "0.0.0.0:9188", "port": 5433}],
                         defaults={"host": "127.0.0.1", "port": 5432})
    assert (first["service"], first["listen_address"], first["listen_port"], first["index"]) == \
        ("postgres_exporter", "0.0.0.0:9187", 9187, 0)
    assert first["unit_path"] == "/etc/systemd/system/postgres_exporter.service"
    assert first["env_file"] == "/etc/postgres_exporter/main.env"
    assert (second["service"], second["listen_port"]) == ("postgres_exporter-replica", 9188)
    assert second["unit_path"] == "/etc/systemd/system/postgres_exporter-replica.service"
    # defaults fill in, an instance's own keys win, and the DB port is not the listen port
    assert (first["port"], second["port"], second["host"]) == (5432, 5433, "127.0.0.1")


def test_null_keys_keep_the_default():
    (item,) = norm([{"name": "main", "password": None}], defaults={"password": "pw"})
    assert item["password"] == "pw"


@pytest.mark.parametrize("instances,message", [
    ([], "non-empty list"),
    ("main", "non-empty list"),
    (["main"], "must be a mapping"),
    ([{}], "name None"),
    ([{"name": "Main"}], "must match"),
    ([{"name": "a/b"}], "must match"),
    ([{"name": "main"}, {"name": "main", "listen_address": ":9188"}], "used twice"),
    ([{"name": "main"}, {"name": "b"}], "needs its own listen_address"),
    ([{"name": "main"}, {"name": "b", "listen_address": "0.0.0.0:9187"}], "both listen on port 9187"),
    ([{"name": "main"}, {"name": "b", "listen_address": "nohostport"}], "not host:port"),
    ([{"name": "main"}, {"name": "b", "listen_address": "h:99999"}], "not host:port"),
    ([{"name": "main", "listen_address": "0.0.0.0:9999"}], "set postgres_exporter_listen_address instead"),
])
def test_bad_instances_are_clear_errors(instances, message):
    with pytest.raises(ei.InstanceError, match=message):
        norm(instances)


def test_bad_defaults():
    with pytest.raises(ei.InstanceError, match="defaults"):
        norm([{"name": "main"}], defaults=["x"])


def test_filter_wraps_errors():
    with pytest.raises(AnsibleFilterError, match="used twice"):
        filt.exporter_instances([{"name": "a"}, {"name": "a", "listen_address": ":1"}], "x", ":2", "/etc/x")
    with pytest.raises(AnsibleFilterError, match="environment file"):
        filt.env_file({"A": "x\ny"})


# --- environment files -------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ['plain', 'with space', 'q"uote', "s'ingle", "dollar$HOME", "back\\slash", "tick`x`",
                                   "p%c#t;x", "ünïcode", ""])
def test_env_file_round_trips_any_printable_value(value):
    text = ei.env_file({"SECRET": value})
    assert text.startswith("# Managed by fleetwatch.observability")
    assert ei.parse_env_file(text) == {"SECRET": value}


def test_env_file_escapes_for_systemd():
    assert ei.env_file({"P": 'a"b$c\\d`e'}).splitlines()[1] == 'P="a\\"b\\$c\\\\d\\`e"'


def test_env_file_sorted_skips_none_and_formats_types():
    text = ei.env_file({"B": None, "A": True, "C": ["x", "y"], "D": 5})
    assert text.splitlines()[1:] == ['A="true"', 'C="x,y"', 'D="5"']


@pytest.mark.parametrize("variables,message", [
    ({"A": "x\ny"}, "line break"),
    ({"A": "x\rz"}, "line break"),
    ({"A": "x\0z"}, "NUL"),
    ({"1A": "x"}, "invalid environment variable name"),
    ({"A-B": "x"}, "invalid environment variable name"),
    ({"A": {"k": "v"}}, "mapping"),
    (["A"], "must be a mapping"),
])
def test_env_file_bad_input(variables, message):
    with pytest.raises(ei.InstanceError, match=message):
        ei.env_file(variables)


def test_parse_env_file_rejects_unquoted():
    with pytest.raises(ei.InstanceError):
        ei.parse_env_file("A=b\n")


# --- PostgreSQL login roles ----------------------------------------------------------------------------

def test_scram_verifier_matches_rfc7677_construction():
    salt = b"0123456789abcdef"
    verifier = pgroles.scram_verifier("pencil", salt, 4096)
    salted = hashlib.pbkdf2_hmac("sha256", b"pencil", salt, 4096)
    stored = hashlib.sha256(hmac.new(salted, b"Client Key", hashlib.sha256).digest()).digest()
    server = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    assert verifier == "SCRAM-SHA-256$4096:%s$%s:%s" % (
        base64.b64encode(salt).decode(), base64.b64encode(stored).decode(), base64.b64encode(server).decode())


def test_scram_salt_is_random_and_verification_works():
    one, two = pgroles.scram_verifier("s3cret'\"$\\"), pgroles.scram_verifier("s3cret'\"$\\")
    assert one != two
    assert pgroles.password_matches("s3cret'\"$\\", one, "u")
    assert not pgroles.password_matches("other", one, "u")


def test_md5_and_unknown_stored_passwords():
    md5 = "md5" + hashlib.md5(b"pwuser").hexdigest()
    assert pgroles.password_matches("pw", md5, "user")
    assert not pgroles.password_matches("pw", md5, "other")
    assert not pgroles.password_matches("pw", "", "user")
    assert not pgroles.password_matches("pw", "SCRAM-SHA-256$garbage", "user")


def test_empty_password_and_bad_names_are_refused():
    with pytest.raises(pgroles.RoleError, match="empty"):
        pgroles.scram_verifier("")
    for bad in ("", "a b", "x'; DROP ROLE postgres; --", 'q"', "1abc", None):
        with pytest.raises(pgroles.RoleError):
            pgroles.check_role_name(bad)
    with pytest.raises(pgroles.RoleError):
        pgroles.plan("ok", "pw", ["pg_monitor", "bad'grant"], None)


def test_parse_state():
    assert pgroles.parse_state("") is None
    assert pgroles.parse_state("t|SCRAM-x|pg_monitor,other\n") == \
        {"login": True, "password": "SCRAM-x", "member_of": ["pg_monitor", "other"]}
    assert pgroles.parse_state("f||")["member_of"] == []
    with pytest.raises(pgroles.RoleError, match="unexpected"):
        pgroles.parse_state("garbage")


def test_plan_creates_fixes_and_then_does_nothing():
    statements = pgroles.plan("pe", "pw", ["pg_monitor"], None)
    assert statements[0].startswith("CREATE ROLE \"pe\" LOGIN PASSWORD 'SCRAM-SHA-256$4096:")
    assert "pw'" not in statements[0]  # the plain password is never in the SQL
    assert statements[1:] == ['GRANT "pg_monitor" TO "pe";']
    good = {"login": True, "password": pgroles.scram_verifier("pw"), "member_of": ["pg_monitor"]}
    assert pgroles.plan("pe", "pw", ["pg_monitor"], good) == []
    fixes = pgroles.plan("pe", "new", ["pg_monitor"], dict(good, login=False, member_of=[]))
    assert fixes[0] == 'ALTER ROLE "pe" LOGIN;'
    assert fixes[1].startswith("ALTER ROLE \"pe\" PASSWORD 'SCRAM-SHA-256$")
    assert fixes[2] == 'GRANT "pg_monitor" TO "pe";'


def test_read_sql_quotes_only_validated_names():
    assert "rolname = 'postgres_exporter'" in pgroles.read_sql("postgres_exporter")
    with pytest.raises(pgroles.RoleError):
        pgroles.read_sql("x' OR '1'='1")


# --- custom query check --------------------------------------------------------------------------------

def test_query_check_script_and_parse():
    names = ["pg_a", "pg_b"]
    script = pgroles.query_check_script(names, {"pg_a": "SELECT 1;", "pg_b": "  SELECT nope  "})
    assert script.splitlines() == ["\\set ON_ERROR_STOP 0",
                                   "SELECT 1;", "\\if :ERROR", "\\echo FWQ-FAILED 0 :LAST_ERROR_MESSAGE", "\\endif",
                                   "SELECT nope;", "\\if :ERROR", "\\echo FWQ-FAILED 1 :LAST_ERROR_MESSAGE", "\\endif"]
    out = 'noise\nFWQ-FAILED 1 column "nope" does not exist\nFWQ-FAILED 7 out of range\nFWQ-FAILED x bad\n'
    assert pgroles.parse_query_check(out, names) == [{"query": "pg_b", "error": 'column "nope" does not exist'}]
    assert pgroles.parse_query_check("", names) == []


def test_query_check_refuses_empty_query():
    with pytest.raises(pgroles.RoleError, match="empty"):
        pgroles.query_check_script(["pg_a"], {"pg_a": " ; "})
