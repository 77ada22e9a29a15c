#!/usr/bin/env bash
# Builds build/CSecmail.xcframework from the static library of secmail-ffi, for iOS devices,
# the iOS simulator (Apple silicon and Intel) and macOS. Runs on macOS with Xcode and rustup:
#   rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios \
#                     aarch64-apple-darwin x86_64-apple-darwin
# (Not run in CI here: no Apple toolchain on Linux. test.sh checks the module map instead.)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
out=$here/build
rm -rf "$out" && mkdir -p "$out/Headers" "$out/lib"

for t in aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios aarch64-apple-darwin x86_64-apple-darwin; do
  (cd "$root" && cargo build --locked --release -p secmail-ffi --target "$t")
done
# One library per platform: the two simulator and the two macOS architectures are merged.
lipo -create "$target/aarch64-apple-ios-sim/release/libsecmail_ffi.a" \
             "$target/x86_64-apple-ios/release/libsecmail_ffi.a" -output "$out/lib/libsecmail_ffi-sim.a"
lipo -create "$target/aarch64-apple-darwin/release/libsecmail_ffi.a" \
             "$target/x86_64-apple-darwin/release/libsecmail_ffi.a" -output "$out/lib/libsecmail_ffi-macos.a"
cp "$root/secmail-ffi/include/secmail.h" "$here/include/module.modulemap" "$out/Headers/"

xcodebuild -create-xcframework \
  -library "$target/aarch64-apple-ios/release/libsecmail_ffi.a" -headers "$out/Headers" \
  -library "$out/lib/libsecmail_ffi-sim.a" -headers "$out/Headers" \
  -library "$out/lib/libsecmail_ffi-macos.a" -headers "$out/Headers" \
  -output "$out/CSecmail.xcframework"
echo "built $out/CSecmail.xcframework"
