#!/usr/bin/env bash
# A local, signed apt repository laid out like Fluent Bit's upstream one, for the tests and the lab:
#   upstream: https://packages.fluentbit.io/debian/<codename>  suite <codename>, component main,
#             key https://packages.fluentbit.io/fluentbit.key
#   here:     .cache/aptrepo/debian/<suite>                     suite <suite>,    component main,
#             key .cache/aptrepo/fluentbit.key
# so the fluent_bit role installs the `fluent-bit` package exactly as users do (deb822 sources file,
# signed-by key), with another repository URL and key.
#
# The package is the mirror's real Fluent Bit binary (.cache/mirror/fluent-bit/<version>/, linked from
# ../shared/mirror, see its README) packed with dpkg-deb the way upstream's CPack package is
# (CMakeLists.txt, packaging/distros/debian/Dockerfile of the v5.1.1 tag): package `fluent-bit`,
# version <version>, /opt/fluent-bit/bin/fluent-bit, the unit /lib/systemd/system/fluent-bit.service
# (upstream's init/systemd.in: `-c //etc/fluent-bit/fluent-bit.conf`), conffiles in /etc/fluent-bit.
# Its Depends are what dpkg-shlibdeps -O says for this Debian 12 build (libssl3 is provided by
# trixie's libssl3t64). The signing key is a throwaway one made here (no passphrase, kept in
# .cache/aptrepo/.gnupg, never used for anything else).
#
# Rebuilt when this script or the mirror's archive changes (stamp .cache/aptrepo/.complete).
# Usage: aptrepo.sh [SUITE]   (default: $FLEETWATCH_TEST_SUITE or trixie)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
suite=${1:-${FLEETWATCH_TEST_SUITE:-trixie}}
repo="$here/.cache/aptrepo"
log() { printf '\033[1m[aptrepo]\033[0m %s\n' "$*" >&2; }

for cmd in dpkg-deb apt-ftparchive gpg gzip sha256sum; do
  command -v "$cmd" >/dev/null || { log "needs $cmd (harness/harness.sh host_packages installs it)"; exit 1; }
done

shopt -s nullglob
archives=("$here"/.cache/mirror/fluent-bit/*/fluent-bit-*-linux-amd64-*.tar.gz)
if [ ${#archives[@]} -eq 0 ]; then
  log "no Fluent Bit archive in .cache/mirror/fluent-bit (../shared/mirror missing): no apt repository"
  exit 3
fi
stamp=$({ cat "$0"; echo "$suite"; for a in "${archives[@]}"; do sha256sum "$a"; done; } | sha256sum | cut -d' ' -f1)
if [ -f "$repo/.complete" ] && [ "$(cat "$repo/.complete")" = "$stamp" ]; then
  exit 0
fi

log "building the signed Fluent Bit apt repository in .cache/aptrepo (suite $suite)"
new="$repo.new"
rm -rf "$new"
mkdir -p "$new/debian/$suite/pool/main/f/fluent-bit" "$new/.gnupg"
chmod 0700 "$new/.gnupg"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for archive in "${archives[@]}"; do
  version=$(basename "$(dirname "$archive")")
  # the archive's own checksum list (the mirror's SHA256SUMS), as the installer checks it
  (cd "$(dirname "$archive")" && grep " $(basename "$archive")\$" SHA256SUMS | sha256sum -c --quiet -)
  root="$work/fluent-bit_$version"
  mkdir -p "$root/DEBIAN" "$root/opt/fluent-bit/bin" "$root/etc/fluent-bit" "$root/lib/systemd/system" \
    "$root/usr/share/doc/fluent-bit"
  tar -xzf "$archive" -C "$work" fluent-bit LICENSE
  install -m 0755 "$work/fluent-bit" "$root/opt/fluent-bit/bin/fluent-bit"
  install -m 0644 "$work/LICENSE" "$root/usr/share/doc/fluent-bit/copyright"
  printf '[SERVICE]\n    flush        1\n    log_level    info\n\n[INPUT]\n    name cpu\n    tag  cpu.local\n\n[OUTPUT]\n    name  stdout\n    match *\n' \
    >"$root/etc/fluent-bit/fluent-bit.conf"
  printf '[PARSER]\n    Name   json\n    Format json\n' >"$root/etc/fluent-bit/parsers.conf"
  printf '[PLUGINS]\n' >"$root/etc/fluent-bit/plugins.conf"
  cat >"$root/lib/systemd/system/fluent-bit.service" <<'UNIT'
[Unit]
Description=Fluent Bit
Documentation=https://docs.fluentbit.io/manual/
Requires=network.target
After=network.target

[Service]
Type=simple
EnvironmentFile=-/etc/sysconfig/fluent-bit
EnvironmentFile=-/etc/default/fluent-bit
ExecStart=/opt/fluent-bit/bin/fluent-bit -c //etc/fluent-bit/fluent-bit.conf
Restart=always

[Install]
WantedBy=multi-user.target
UNIT
  printf '/etc/fluent-bit/parsers.conf\n/etc/fluent-bit/plugins.conf\n/etc/fluent-bit/fluent-bit.conf\n' >"$root/DEBIAN/conffiles"
  cat >"$root/DEBIAN/control" <<CONTROL
Package: fluent-bit
Version: $version
Architecture: amd64
Maintainer: fleetwatch test mirror <root@localhost>
Installed-Size: $(du -sk "$root" | cut -f1)
Depends: libc6 (>= 2.36), libgcc-s1 (>= 4.2), libsqlite3-0 (>= 3.5.9), libssl3 (>= 3.0.0), libstdc++6 (>= 11), libsystemd0 (>= 221), libyaml-0-2, zlib1g (>= 1:1.2.0)
Section: default
Priority: optional
Description: Fast data collector for Linux
 Fluent Bit $version, the real binary of the fleetwatch test mirror (../shared/mirror), packed
 like upstream's package for the collection's tests. Not an upstream package.
CONTROL
  dpkg-deb --root-owner-group -Zxz --build "$root" "$new/debian/$suite/pool/main/f/fluent-bit/fluent-bit_${version}_amd64.deb" >/dev/null
  rm -f "$work/fluent-bit" "$work/LICENSE"
done

dist="$new/debian/$suite/dists/$suite"
mkdir -p "$dist/main/binary-amd64"
(cd "$new/debian/$suite" && apt-ftparchive packages pool >"dists/$suite/main/binary-amd64/Packages")
gzip -9nk "$dist/main/binary-amd64/Packages"
apt-ftparchive \
  -o APT::FTPArchive::Release::Origin=fleetwatch-test -o APT::FTPArchive::Release::Label=fluent-bit \
  -o APT::FTPArchive::Release::Suite="$suite" -o APT::FTPArchive::Release::Codename="$suite" \
  -o APT::FTPArchive::Release::Architectures=amd64 -o APT::FTPArchive::Release::Components=main \
  release "$dist" >"$work/Release"
mv "$work/Release" "$dist/Release"

export GNUPGHOME="$new/.gnupg"
gpg --batch --quiet --passphrase '' --quick-gen-key "fleetwatch test apt repository <root@localhost>" ed25519 sign never 2>/dev/null
gpg --batch --quiet --yes --armor --export >"$new/fluentbit.key"
gpg --batch --quiet --yes --clearsign -o "$dist/InRelease" "$dist/Release"
gpg --batch --quiet --yes --armor --detach-sign -o "$dist/Release.gpg" "$dist/Release"
gpgconf --kill all 2>/dev/null || true
echo "$stamp" >"$new/.complete"
rm -rf "$repo.old"; [ -d "$repo" ] && mv "$repo" "$repo.old"; mv "$new" "$repo"; rm -rf "$repo.old"
log "apt repository ready: $(cd "$repo" && find debian -name '*.deb' | tr '\n' ' ')"
