// swift-tools-version:5.7
// The Swift package of secmail: the CSecmail module comes from the XCFramework that
// build-xcframework.sh makes (static libsecmail_ffi.a per platform + secmail.h +
// module.modulemap); Secmail is the thin Swift wrapper over it.
import PackageDescription

let package = Package(
    name: "Secmail",
    platforms: [.iOS(.v13), .macOS(.v11)],
    products: [.library(name: "Secmail", targets: ["Secmail"])],
    targets: [
        .binaryTarget(name: "CSecmail", path: "build/CSecmail.xcframework"),
        .target(name: "Secmail", dependencies: ["CSecmail"], path: "Sources/Secmail"),
    ]
)
