#!/usr/bin/env bash
# Rebuilds test/fixtures/public/*.tar.xz: every capture file of tcpdump's and PcapPlusPlus's
# test suites, byte for byte, for the no-crash replay test (test/hostile/public-captures.test.ts).
# Usage: make-public-captures.sh TCPDUMP_GIT_DIR PCAPPLUSPLUS_GIT_DIR
# (bare or normal clones at the commits named in test/fixtures/public/MANIFEST.md).
# PcapPlusPlus files are named by their path under Tests/ ('/' -> '--'), exact duplicates
# dropped, and spread over three archives so that no file in the repo exceeds 5 MB.
set -euo pipefail
tcpdump_git=$1
ppp_git=$2
out=$(cd "$(dirname "$0")/../fixtures/public" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/tcpdump" "$work/all"
git -C "$tcpdump_git" ls-tree -r HEAD tests | grep -E '\.(pcap|pcapng|cap)$' |
  while read -r _ _ blob path; do git -C "$tcpdump_git" cat-file blob "$blob" >"$work/tcpdump/$(basename "$path")"; done
git -C "$ppp_git" ls-tree -r HEAD Tests | grep -E '\.(pcap|pcapng|cap|dmp)$' |
  while read -r _ _ blob path; do
    name=$(echo "${path#Tests/}" | sed 's#/#--#g')
    git -C "$ppp_git" cat-file blob "$blob" >"$work/all/$name"
  done
# Drop exact duplicates (keep the first name in sort order).
(cd "$work/all" && md5sum -- * | sort -k1,1 -k2 | awk 'seen[$1]++ { print $2 }' | xargs -r rm --)
i=0
for f in $(ls -S "$work/all"); do
  part="$work/pcapplusplus-$((i % 3 + 1))"
  mkdir -p "$part"
  mv "$work/all/$f" "$part/"
  i=$((i + 1))
done
cd "$work"
for d in tcpdump pcapplusplus-1 pcapplusplus-2 pcapplusplus-3; do
  XZ_OPT=-9 tar --sort=name --owner=0 --group=0 --numeric-owner -cJf "$out/$d.tar.xz" "$d"
done
ls -la "$out"
