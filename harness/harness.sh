#!/usr/bin/env bash
# The offline test harness: host packages, the Python venv, the test-host image and the artifact
# mirror. Every step is idempotent and reuses what it finds, so `make up` / `make test` are fast on
# a second run. Run as root on Debian (bookworm or newer).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cache="$here/.cache"
venv="$here/.venv"
export CONTAINERS_CONF="$here/harness/containers.conf"
IMAGE=${FLEETWATCH_TEST_IMAGE:-localhost/fleetwatch-debian:trixie}
SUITE=${FLEETWATCH_TEST_SUITE:-trixie}
DEBIAN_MIRROR=${FLEETWATCH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
log() { printf '\033[1m[harness]\033[0m %s\n' "$*" >&2; }

# Every host package the harness, Molecule and the lab use, with the command (or file) each must
# provide. Installed explicitly (a fresh Debian 12 machine has none of them: without iptables,
# netavark fails every container start with "No such file or directory"), then checked.
HOST_PACKAGES=(
  "podman:podman"                          # the test hosts (system containers)
  "runc:runc"                              # crun refuses hybrid cgroups on these machines
  "netavark:/usr/lib/podman/netavark"      # network backend with DNS between the test hosts
  "aardvark-dns:/usr/lib/podman/aardvark-dns"
  "iptables:iptables"                      # netavark programs the networks' NAT with it
  "uidmap:newuidmap"
  "debootstrap:debootstrap"                # the test-host image
  "curl:curl"
  "ca-certificates:/etc/ssl/certs/ca-certificates.crt"
  "openssl:openssl"                        # test certificates (Molecule prepare, mutual TLS)
  "git:git"                                # make bench / fresh-clone checks
  "make:make"
  "tar:tar"
  "coreutils:sha256sum"
  "shellcheck:shellcheck"                  # ansible-test sanity's shellcheck test (harness/sanity.sh)
  "dpkg:dpkg-deb"                          # the Fluent Bit test package (harness/aptrepo.sh)
  "apt-utils:apt-ftparchive"               # its signed apt repository's indexes
  "gnupg:gpg"                              # and the repository's throwaway signing key
  "gzip:gzip"
  "redis-server:redis-server"              # tests/unit/test_defects.py: the redis_exporter password file read by a real Redis
  "redis-tools:redis-cli"
  "util-linux:unshare"                     # service_setup's private mount namespace (validation of a whole new set)
)

have() { case "$1" in /*) [ -e "$1" ] ;; *) command -v "$1" >/dev/null 2>&1 ;; esac; }

host_packages() {
  local need=() spec
  for spec in "${HOST_PACKAGES[@]}"; do
    have "${spec#*:}" || need+=("${spec%%:*}")
  done
  [ -e /usr/share/containers/containers.conf ] || need+=(podman)
  python3 -m venv --help >/dev/null 2>&1 || need+=(python3-venv)
  mapfile -t need < <(printf "%s\n" "${need[@]}" | sort -u | sed "/^$/d")
  if [ ${#need[@]} -gt 0 ]; then
    log "installing host packages: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  local missing=()
  for spec in "${HOST_PACKAGES[@]}"; do
    have "${spec#*:}" || missing+=("${spec#*:} (Debian package ${spec%%:*})")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "still missing after apt-get install: ${missing[*]}"
    exit 1
  fi
}

venv() {
  local stamp="$venv/.requirements.sha256"
  local want; want=$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)
  if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then return; fi
  log "creating the Python venv in .venv (requirements.txt)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip >/dev/null 2>&1
  "$venv/bin/pip" install -q -r "$here/requirements.txt" 2>&1 | { grep -v "is ignored: it is neither" || true; }
  echo "$want" >"$stamp"
}

# The collection is found by Ansible through .cache/collections/ansible_collections/fleetwatch/observability
collection_link() {
  local d="$cache/collections/ansible_collections/fleetwatch"
  mkdir -p "$d"
  [ -L "$d/observability" ] || ln -sfn ../../../.. "$d/observability"
}

# The image is rebuilt when this recipe changes (its hash is a label of the image).
image_recipe() { { declare -f image; echo "$SUITE"; } | sha256sum | cut -c1-16; }

image() {
  local recipe; recipe=$(image_recipe)
  if podman image exists "$IMAGE"; then
    case "$IMAGE" in
      localhost/*)
        [ "$(podman image inspect -f '{{ index .Config.Labels "fleetwatch.recipe" }}' "$IMAGE" 2>/dev/null)" = "$recipe" ] && return
        log "image $IMAGE is from an older recipe: rebuilding" ;;
      *) return ;;
    esac
  fi
  case "$IMAGE" in
    localhost/*) ;;
    *) log "pulling $IMAGE"; podman pull "$IMAGE"; return ;;
  esac
  log "building $IMAGE from Debian $SUITE with debootstrap (about a minute)"
  mkdir -p "$cache"
  local root; root=$(mktemp -d "$cache/rootfs.XXXXXX")
  debootstrap --variant=minbase \
    --include=systemd,systemd-sysv,python3,python3-apt,dbus,iproute2,ca-certificates,sudo,curl,procps,iputils-ping \
    "$SUITE" "$root" "$DEBIAN_MIRROR" >"$cache/debootstrap.log" 2>&1 \
    || { tail -20 "$cache/debootstrap.log" >&2; rm -rf "$root"; exit 1; }
  # A container needs no getty, no udev and no timers that download things.
  chroot "$root" systemctl mask getty@tty1.service console-getty.service \
    systemd-udevd.service apt-daily.timer apt-daily-upgrade.timer >/dev/null 2>&1 || true
  # The mirror's Alertmanager is Debian's build (see build_mirror.py), which reads its default
  # notification template from /usr/share/prometheus/alertmanager/ where upstream's embeds it:
  # the test hosts carry those files (default.tmpl, email.tmpl), taken from the same Debian package.
  chroot "$root" sh -c 'cd /tmp && apt-get update -qq && apt-get download -qq prometheus-alertmanager \
    && dpkg-deb --fsys-tarfile prometheus-alertmanager_*.deb | tar -x -C / ./usr/share/prometheus/alertmanager/ \
    && rm -f prometheus-alertmanager_*.deb' >>"$cache/debootstrap.log" 2>&1 \
    || { tail -20 "$cache/debootstrap.log" >&2; rm -rf "$root"; exit 1; }
  echo 'fleetwatch-test' >"$root/etc/hostname"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | podman import --change 'CMD ["/sbin/init"]' --change "LABEL fleetwatch.recipe=$recipe" - "$IMAGE" >/dev/null
  rm -rf "$root"
  log "image $IMAGE ready"
}

# The mirror is rebuilt when its recipe changes: the builder and the registry it reads.
mirror_recipe() {
  cat "$here/harness/build_mirror.py" "$here/plugins/module_utils/registry.py" "$here/plugins/module_utils/artifacts.py" \
    | sha256sum | cut -d' ' -f1
}

mirror() {
  local dir="$cache/mirror"
  if [ -f "$dir/.complete" ] && [ "$(cat "$dir/.complete")" = "$(mirror_recipe)" ]; then
    shared_mirror
    return
  fi
  image
  log "building the artifact mirror in .cache/mirror from Debian $SUITE packages"
  # built aside and swapped in, so that running tests keep a complete mirror meanwhile
  rm -rf "$dir.new"; mkdir -p "$dir.new"
  podman run --rm --network=host -v "$here:/src:ro" -v "$dir.new:/mirror" "$IMAGE" \
    python3 /src/harness/build_mirror.py /mirror
  mirror_recipe >"$dir.new/.complete"
  rm -rf "$dir.old"; [ -d "$dir" ] && mv "$dir" "$dir.old"; mv "$dir.new" "$dir"; rm -rf "$dir.old"
  shared_mirror
}

# Real upstream programs Debian does not package (Loki, logcli, Promtail, Tempo, Fluent Bit), built
# from their upstream tags into ../shared/mirror (see its README): each <component>/<version>/ folder
# is linked into the mirror (not copied: about 156 MB; not part of the rebuild stamp, so linked again
# after every rebuild). Without that folder the links are removed and the scenarios that need these
# artifacts are reported skipped (extensions/molecule/<scenario>/requires, see the README).
SHARED_COMPONENTS=(loki promtail tempo fluent-bit)
shared_mirror() {
  local dir="$cache/mirror" shared="$here/../shared/mirror" comp version
  for comp in "${SHARED_COMPONENTS[@]}"; do
    for version in "$dir/$comp"/*; do  # drop links whose target is gone
      [ -L "$version" ] && [ ! -e "$version/SHA256SUMS" ] && rm -f "$version"
    done
    [ -d "$shared/$comp" ] || continue
    for version in "$shared/$comp"/*/; do
      version=${version%/}
      [ -f "$version/SHA256SUMS" ] || continue
      mkdir -p "$dir/$comp"
      [ "$(readlink "$dir/$comp/$(basename "$version")" 2>/dev/null)" = "$(cd "$version" && pwd -P)" ] && continue
      ln -sfn "$(cd "$version" && pwd -P)" "$dir/$comp/$(basename "$version")"
      log "mirror: $comp $(basename "$version") from ../shared/mirror"
    done
  done
  [ -d "$shared" ] || log "no ../shared/mirror: the scenarios needing Loki, Promtail, Tempo or Fluent Bit are skipped"
}

# promtool/amtool for the controller (rule unit tests in pytest) and prometheus (flag tests), taken from the mirror's archives.
tools() {
  mirror
  mkdir -p "$cache/tools"
  for spec in prometheus:promtool prometheus:prometheus alertmanager:amtool; do
    local comp=${spec%%:*} bin=${spec#*:}
    [ -x "$cache/tools/$bin" ] && continue
    local arcs=("$cache/mirror/$comp"/*/"$comp"-*.linux-*.tar.gz)
    tar -xzf "${arcs[0]}" -C "$cache/tools" --wildcards --strip-components=1 "*/$bin"
  done
}

# Fluent Bit's test apt repository (.cache/aptrepo, see harness/aptrepo.sh), from the mirror's binary;
# none (and the scenarios needing it skipped) without ../shared/mirror.
aptrepo() {
  shared_mirror
  local rc=0
  bash "$here/harness/aptrepo.sh" "$SUITE" || rc=$?
  [ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || exit "$rc"
}

# The other Debian releases the tests run on (the roles' meta/main.yml lists exactly these and
# $SUITE): `make molecule` runs its platform matrix (PLATFORM_SCENARIOS) on their images.
OTHER_SUITES=(bookworm)
other_images() {
  [ -z "${FLEETWATCH_TEST_IMAGE:-}" ] || return 0  # a registry image was chosen: no local builds
  local suite
  for suite in "${OTHER_SUITES[@]}"; do
    IMAGE=localhost/fleetwatch-debian:$suite SUITE=$suite image
  done
}

all() { host_packages; venv; collection_link; image; other_images; mirror; tools; aptrepo; }

"${@:-all}"
