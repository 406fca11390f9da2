#!/usr/bin/env bash
# Fuzzes the decoding of the orders.events log: the `decode` target of schemas/fuzz feeds
# arbitrary bytes through the Confluent frame, every writer schema under schemas/avro, the
# upcasters, resolution and the wire → domain mapping (see its //! doc).
#
# libFuzzer on stable Rust: `cargo fuzz` without a sanitizer (`-s none`) passes only stable
# codegen flags, so no nightly and no RUSTC_BOOTSTRAP. Safe Rust needs no AddressSanitizer;
# overflow checks and debug assertions stay on (`-a`).
#
# Usage: scripts/fuzz.sh [--seconds N] [-- libFuzzer flags...]
#   --seconds N  how long to fuzz (default 60; the test suite runs 30, the documented run
#                600). New inputs go to schemas/fuzz/corpus/decode (not committed); a crash
#                is saved under schemas/fuzz/artifacts/decode and fails the script.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CARGO_FUZZ_VERSION="${CARGO_FUZZ_VERSION:-0.13.1}"
seconds=60
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "usage: $0 [--seconds N] [-- libFuzzer flags...]" >&2; exit 2 ;;
  esac
done

install_cargo_fuzz() {
  if [ "$(cargo fuzz --version 2>/dev/null)" = "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    return 0
  fi
  log "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
}

install_cargo_fuzz
# libfuzzer-sys compiles libFuzzer's C++ sources.
command -v c++ >/dev/null || apt_install g++

cd "$REPO_ROOT/schemas/fuzz"
mkdir -p corpus/decode
log "fuzzing the event decoding for ${seconds}s"
# The first corpus directory collects what the run finds; the committed seeds are read only.
cargo fuzz run --sanitizer none --release --debug-assertions decode corpus/decode seeds/decode \
  -- -max_total_time="$seconds" -timeout=10 -print_final_stats=1 "$@"
