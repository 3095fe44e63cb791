#!/usr/bin/env bash
# playground-assets.sh — vendor the GraphiQL Playground's static files.
#
# gqlgen's playground (github.com/99designs/gqlgen/graphql/playground) loads
# graphiql, react, react-dom and @graphiql/plugin-explorer from a CDN. We serve
# them ourselves (internal/playground embeds them), so the Playground works with
# no internet access. This script fetches the exact versions gqlgen's defaults
# name with `npm pack` (only the npm registry is needed), extracts the few
# UMD/production files the page loads into internal/playground/assets/, checks
# each against the hash gqlgen pins for it, and writes assets/VERSIONS.
#
# Idempotent: files whose content is unchanged are not rewritten, and files
# that no longer belong in assets/ are removed. Re-run after bumping gqlgen
# (the script fails if gqlgen's defaults no longer name the versions below).
#
# Usage: scripts/playground-assets.sh
# Needs: bash, npm (and node, which npm brings), tar; go to cross-check gqlgen.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/internal/playground/assets"

# One line per vendored file:
#   npm package@version | path in the npm tarball | path under assets/ | sha256 (base64)
# The sha256 values are the SRI hashes in gqlgen v0.17.98's playground.go,
# except for the explorer CSS: gqlgen names dist/style.min.css, a file the CDN
# minifies on the fly and that is not in the npm package, so we ship the
# package's dist/style.css (same rules, not minified) and pin its own hash.
files=(
  "react@18.2.0|package/umd/react.production.min.js|react/react.production.min.js|S0lp+k7zWUMk2ixteM6HZvu8L9Eh//OVrt+ZfbCpmgY="
  "react-dom@18.2.0|package/umd/react-dom.production.min.js|react-dom/react-dom.production.min.js|IXWO0ITNDjfnNXIu5POVfqlgYoop36bDzhodR6LW5Pc="
  "graphiql@4.1.2|package/graphiql.min.js|graphiql/graphiql.min.js|hnImuor1znlJkD/FOTL3jayfS/xsyNoP04abi8bFJWs="
  "graphiql@4.1.2|package/graphiql.min.css|graphiql/graphiql.min.css|MEh+B2NdMSpj9kexQNN3QKc8UzMrCXW/Sx/phcpuyIU="
  "@graphiql/plugin-explorer@4.0.6|package/dist/index.umd.js|plugin-explorer/index.umd.js|UM8sWOS0Xa9yLY85q6Clh0pF4qpxX+TOcJ41flECqBs="
  "@graphiql/plugin-explorer@4.0.6|package/dist/style.css|plugin-explorer/style.css|aJCaSuI7+t/EWRrLTis8jU9EFTua5/o7fnwxnroxDvE="
)

die() { echo "playground-assets: $*" >&2; exit 1; }

command -v npm >/dev/null || die "npm is required"
command -v node >/dev/null || die "node is required"
command -v tar >/dev/null || die "tar is required"

# digest ALG FILE -> base64 digest (node is always there with npm).
digest() {
  node -e 'const c=require("crypto"),f=require("fs");process.stdout.write(c.createHash(process.argv[1]).update(f.readFileSync(process.argv[2])).digest("base64"))' "$1" "$2"
}

# Cross-check that gqlgen's playground still names these versions.
gqlgen_ver=""
if command -v go >/dev/null; then
  if gqlgen_dir="$(cd "$root" && go list -m -f '{{.Dir}}' github.com/99designs/gqlgen 2>/dev/null)" && [ -n "$gqlgen_dir" ]; then
    gqlgen_ver="$(cd "$root" && go list -m -f '{{.Version}}' github.com/99designs/gqlgen)"
    pg="$gqlgen_dir/graphql/playground/playground.go"
    if [ ! -f "$pg" ]; then
      (cd "$root" && go mod download github.com/99designs/gqlgen) || true
    fi
    if [ -f "$pg" ]; then
      for line in "${files[@]}"; do
        spec="${line%%|*}"
        grep -qF "cdn.jsdelivr.net/npm/$spec/" "$pg" ||
          die "gqlgen $gqlgen_ver's playground no longer loads $spec; update the pins in $0"
      done
    else
      echo "playground-assets: warning: $pg not found; not cross-checking versions" >&2
    fi
  fi
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
stage="$work/assets"
mkdir -p "$stage"

# Fetch each package once.
declare -A tarball=()
for line in "${files[@]}"; do
  spec="${line%%|*}"
  [ -n "${tarball[$spec]:-}" ] && continue
  echo "playground-assets: npm pack $spec" >&2
  if ! name="$(cd "$work" && npm pack --silent --ignore-scripts "$spec" 2>"$work/npm.err" | tail -n 1)" ||
    [ -z "$name" ] || [ ! -f "$work/$name" ]; then
    cat "$work/npm.err" >&2
    die "npm pack $spec failed"
  fi
  unpack="$work/unpack-${#tarball[@]}"
  mkdir -p "$unpack"
  tar -xzf "$work/$name" -C "$unpack"
  tarball[$spec]="$unpack"
done

{
  echo "# GraphiQL Playground assets, vendored by scripts/playground-assets.sh; do not edit."
  echo "# Versions are the defaults of github.com/99designs/gqlgen${gqlgen_ver:+ $gqlgen_ver}/graphql/playground."
  echo "# package@version	asset	file in npm package	sha384"
} >"$stage/VERSIONS"

for line in "${files[@]}"; do
  IFS='|' read -r spec src out want <<<"$line"
  from="${tarball[$spec]}/$src"
  [ -f "$from" ] || die "$spec has no $src"
  got="$(digest sha256 "$from")"
  [ "$got" = "$want" ] || die "$spec $src: sha256-$got, want sha256-$want"
  mkdir -p "$stage/$(dirname "$out")"
  cp "$from" "$stage/$out"
  printf '%s\t%s\t%s\tsha384-%s\n' "$spec" "$out" "${src#package/}" "$(digest sha384 "$from")" >>"$stage/VERSIONS"
done

# Sync the staged tree into assets/, touching only what changed.
mkdir -p "$dest"
changed=0
while IFS= read -r -d '' f; do
  rel="${f#"$stage"/}"
  if ! cmp -s "$f" "$dest/$rel"; then
    mkdir -p "$dest/$(dirname "$rel")"
    cp "$f" "$dest/$rel"
    echo "playground-assets: wrote assets/$rel" >&2
    changed=1
  fi
done < <(find "$stage" -type f -print0)
while IFS= read -r -d '' f; do
  rel="${f#"$dest"/}"
  if [ ! -f "$stage/$rel" ]; then
    rm -f "$f"
    echo "playground-assets: removed assets/$rel" >&2
    changed=1
  fi
done < <(find "$dest" -type f -print0)
find "$dest" -mindepth 1 -type d -empty -delete

[ "$changed" = 1 ] || echo "playground-assets: assets up to date" >&2
