// A thin Swift wrapper over secmail's C ABI (module CSecmail, include/module.modulemap).
//
// Codes become a thrown `SecmailError`; bytes go in and come out as `Data` (the library's
// buffer is copied, then freed and wiped by the library); handles are classes that free
// themselves in `deinit`. The rules behind this are in docs/ffi.md.
import CSecmail
import Foundation

/// A failed call, by layer (the hundreds digit of the code), with the library's message.
/// The frequent outcomes a program branches on have their own cases.
public enum SecmailError: Error, Equatable {
    /// The operation was cancelled through its `Cancellation` (`SECMAIL_ERR_CANCELLED`).
    case cancelled(message: String)
    /// The passphrase does not open the container (`SECMAIL_ERR_PASSPHRASE_WRONG`).
    case wrongPassphrase(message: String)
    /// No key or password opens the OpenPGP message (`SECMAIL_ERR_PGP_CANNOT_DECRYPT`).
    case cannotDecrypt(message: String)
    /// 1xx: the call itself (arguments, encoding, internal error, I/O, not found).
    case call(code: Int32, message: String)
    /// 2xx: MIME and limits.
    case mime(code: Int32, message: String)
    /// 3xx: the passphrase container.
    case passphrase(code: Int32, message: String)
    /// 4xx: OpenPGP.
    case openpgp(code: Int32, message: String)
    /// 5xx: S/MIME.
    case smime(code: Int32, message: String)
    /// 6xx: SMTP, IMAP, POP3.
    case transport(code: Int32, message: String)
    /// 7xx: the encrypted store (`SECMAIL_ERR_STORE_WRONG_KEY`, `_DAMAGED`, …).
    case store(code: Int32, message: String)
    /// Any other code (a layer added after this wrapper).
    case other(code: Int32, message: String)

    /// The error for a non-zero code, with this thread's last error message.
    init(code: Int32) {
        let message = String(cString: secmail_last_error_message())
        switch code {
        case SECMAIL_ERR_CANCELLED: self = .cancelled(message: message)
        case SECMAIL_ERR_PASSPHRASE_WRONG: self = .wrongPassphrase(message: message)
        case SECMAIL_ERR_PGP_CANNOT_DECRYPT: self = .cannotDecrypt(message: message)
        case 100..<200: self = .call(code: code, message: message)
        case 200..<300: self = .mime(code: code, message: message)
        case 300..<400: self = .passphrase(code: code, message: message)
        case 400..<500: self = .openpgp(code: code, message: message)
        case 500..<600: self = .smime(code: code, message: message)
        case 600..<700: self = .transport(code: code, message: message)
        case 700..<800: self = .store(code: code, message: message)
        default: self = .other(code: code, message: message)
        }
    }

    /// The code's name, e.g. "SECMAIL_ERR_PGP_CANNOT_DECRYPT".
    public static func name(of code: Int32) -> String {
        String(cString: secmail_result_str(code))
    }
}

/// Throws for a non-zero `secmail_result_t`.
@inline(__always)
func check(_ code: secmail_result_t) throws {
    if code != SECMAIL_OK { throw SecmailError(code: code) }
}

/// Runs `body` with `data` as a (pointer, length) pair; an empty `Data` is (NULL, 0).
func withBytes<R>(_ data: Data, _ body: (UnsafePointer<UInt8>?, Int) throws -> R) rethrows -> R {
    try data.withUnsafeBytes { raw in
        try body(raw.bindMemory(to: UInt8.self).baseAddress, raw.count)
    }
}

/// Copies a filled buffer into `Data`, then frees (and wipes) the library's copy.
func take(_ buffer: inout secmail_buffer_t) -> Data {
    defer { secmail_buffer_free(&buffer) }
    guard let p = buffer.data, buffer.len > 0 else { return Data() }
    return Data(bytes: p, count: buffer.len)
}

/// Copies a library-owned string, then frees (and wipes) it.
func take(_ string: UnsafeMutablePointer<CChar>?) -> String {
    guard let s = string else { return "" }
    defer { secmail_string_free(s) }
    return String(cString: s)
}

public enum Secmail {
    /// The library's version, e.g. "0.1.0".
    public static var version: String { String(cString: secmail_version()) }

    /// Whether the loaded library has the ABI this wrapper was compiled against.
    public static var abiMatches: Bool { secmail_abi_version() == UInt32(SECMAIL_ABI_VERSION) }

    /// Encrypts `data` under `passphrase` into secmail's passphrase container.
    public static func passphraseEncrypt(_ data: Data, passphrase: Data, armor: Bool = false) throws -> Data {
        var out = secmail_buffer_t(data: nil, len: 0)
        try withBytes(passphrase) { pp, pl in
            try withBytes(data) { dp, dl in
                try check(secmail_passphrase_encrypt(pp, pl, dp, dl, armor ? UInt32(SECMAIL_PASSPHRASE_ARMOR) : 0, &out))
            }
        }
        return take(&out)
    }

    /// Decrypts a passphrase container: all of the plaintext, or a thrown error
    /// (`.wrongPassphrase`, `.passphrase(code: SECMAIL_ERR_PASSPHRASE_DECRYPTION_FAILED, …)`).
    public static func passphraseDecrypt(_ container: Data, passphrase: Data) throws -> Data {
        var out = secmail_buffer_t(data: nil, len: 0)
        try withBytes(passphrase) { pp, pl in
            try withBytes(container) { cp, cl in
                try check(secmail_passphrase_decrypt(pp, pl, cp, cl, &out))
            }
        }
        return take(&out)
    }

    /// The MIME structure of a message as JSON (the shape of `secmail mime inspect --json`).
    public static func inspectMIME(_ message: Data) throws -> String {
        var json: UnsafeMutablePointer<CChar>? = nil
        try withBytes(message) { p, l in try check(secmail_mime_inspect_json(p, l, &json)) }
        return take(json)
    }

    /// Encrypts `data` to OpenPGP certificates, armored.
    public static func pgpEncrypt(_ data: Data, to recipients: [PGPCertificate]) throws -> Data {
        var out = secmail_buffer_t(data: nil, len: 0)
        let handles: [OpaquePointer?] = recipients.map { $0.handle }
        try withBytes(data) { dp, dl in
            try handles.withUnsafeBufferPointer { hs in
                try check(secmail_pgp_encrypt(dp, dl, hs.baseAddress, hs.count, nil, 0, nil,
                                              UInt32(SECMAIL_PGP_ARMOR), &out))
            }
        }
        return take(&out)
    }

    /// Decrypts an OpenPGP message with `keys`: the plaintext and the verdict as JSON.
    public static func pgpDecrypt(_ message: Data, keys: [PGPCertificate]) throws -> (plaintext: Data, verdictJSON: String) {
        var options: OpaquePointer? = nil
        try check(secmail_pgp_decrypt_options_new(&options))
        defer { secmail_pgp_decrypt_options_free(options) }
        for key in keys {
            try check(secmail_pgp_decrypt_options_add_cert(options, key.handle, UInt32(SECMAIL_PGP_ROLE_DECRYPT)))
        }
        var out = secmail_buffer_t(data: nil, len: 0)
        var verdict: OpaquePointer? = nil
        try withBytes(message) { p, l in try check(secmail_pgp_decrypt(p, l, options, &out, &verdict)) }
        defer { secmail_verdict_free(verdict) }
        let plaintext = take(&out)
        var json: UnsafeMutablePointer<CChar>? = nil
        try check(secmail_verdict_to_json(verdict, &json))
        return (plaintext, take(json))
    }
}

/// An OpenPGP certificate, possibly with secret keys. Immutable: may be shared between
/// threads.
public final class PGPCertificate {
    let handle: OpaquePointer?

    private init(handle: OpaquePointer?) { self.handle = handle }
    deinit { secmail_cert_free(handle) }

    /// Generates a Cv25519 key for `userID` ("Alice <alice@example.org>").
    public static func generate(userID: String, passphrase: Data = Data()) throws -> PGPCertificate {
        var key: OpaquePointer? = nil
        try withBytes(passphrase) { p, l in
            try check(secmail_pgp_generate(userID, UInt32(SECMAIL_PGP_ALGO_CV25519), 0, p, l, &key, nil))
        }
        return PGPCertificate(handle: key)
    }

    /// Reads one certificate or key, armored or binary.
    public convenience init(bytes: Data) throws {
        var cert: OpaquePointer? = nil
        try withBytes(bytes) { p, l in try check(secmail_cert_from_bytes(p, l, &cert)) }
        self.init(handle: cert)
    }

    /// The fingerprint, upper-case hex.
    public func fingerprint() throws -> String {
        var s: UnsafeMutablePointer<CChar>? = nil
        try check(secmail_cert_fingerprint(handle, &s))
        return take(s)
    }
}

/// A cancellation token for the blocking transport calls: cancel from any thread (a UI
/// button) while the call runs on a background queue. See `secmail_cancel_cancel` in the
/// header for how quickly a running call notices.
public final class Cancellation: @unchecked Sendable {
    let handle: OpaquePointer?

    public init() throws {
        var c: OpaquePointer? = nil
        try check(secmail_cancel_new(&c))
        handle = c
    }
    deinit { secmail_cancel_free(handle) }

    public func cancel() { _ = secmail_cancel_cancel(handle) }

    public var isCancelled: Bool {
        var flag = false
        _ = secmail_cancel_is_cancelled(handle, &flag)
        return flag
    }
}

/// An encrypted store (`secmail_store_t`) opened for adding or as its owner. Every method but
/// `setLimits` may be called from several threads at once (the store locks its index).
public final class SecureStore: @unchecked Sendable {
    let handle: OpaquePointer?

    private init(handle: OpaquePointer?) { self.handle = handle }
    deinit { secmail_store_free(handle) }

    /// Makes a store in `directory` owned by an OpenPGP certificate; the handle can add.
    public static func create(at directory: String, owner: PGPCertificate) throws -> SecureStore {
        var s: OpaquePointer? = nil
        try check(secmail_store_init_pgp(directory, owner.handle, &s))
        return SecureStore(handle: s)
    }

    /// Makes a passphrase store in `directory`; the handle is the owner's.
    public static func create(at directory: String, passphrase: Data) throws -> SecureStore {
        var s: OpaquePointer? = nil
        try withBytes(passphrase) { p, l in try check(secmail_store_init_passphrase(directory, p, l, 0, &s)) }
        return SecureStore(handle: s)
    }

    /// Opens a store for adding only (the passphrase of a passphrase store, else empty).
    public static func openForAdding(_ directory: String, passphrase: Data = Data()) throws -> SecureStore {
        var s: OpaquePointer? = nil
        try withBytes(passphrase) { p, l in try check(secmail_store_open_add(directory, p, l, &s)) }
        return SecureStore(handle: s)
    }

    /// Opens an OpenPGP store as its owner with the owner's secret key.
    public static func open(_ directory: String, key: PGPCertificate, keyPassphrase: Data = Data()) throws -> SecureStore {
        var s: OpaquePointer? = nil
        try withBytes(keyPassphrase) { p, l in try check(secmail_store_open_pgp(directory, key.handle, p, l, &s)) }
        return SecureStore(handle: s)
    }

    /// Opens a passphrase store as its owner.
    public static func open(_ directory: String, passphrase: Data) throws -> SecureStore {
        var s: OpaquePointer? = nil
        try withBytes(passphrase) { p, l in try check(secmail_store_open_passphrase(directory, p, l, &s)) }
        return SecureStore(handle: s)
    }

    /// Seals a message into the store; its id once it is durable.
    public func add(_ message: Data) throws -> String {
        var id: UnsafeMutablePointer<CChar>? = nil
        try withBytes(message) { p, l in try check(secmail_store_add(handle, p, l, &id)) }
        return take(id)
    }

    /// Every message as JSON (`id`, `added`, `date`, `from`, `subject`, `size`, `flags`).
    public func listJSON() throws -> String {
        var json: UnsafeMutablePointer<CChar>? = nil
        try check(secmail_store_list_json(handle, &json))
        return take(json)
    }

    /// Message `id`, byte-exact, only after it authenticated.
    public func message(_ id: String) throws -> Data {
        var out = secmail_buffer_t(data: nil, len: 0)
        try check(secmail_store_get(handle, id, &out))
        return take(&out)
    }

    /// Sets and clears `SECMAIL_STORE_*` flags; the message's new flags.
    public func flag(_ id: String, set: UInt32, clear: UInt32 = 0) throws -> UInt32 {
        var flags: UInt32 = 0
        try check(secmail_store_flag(handle, id, set, clear, &flags))
        return flags
    }

    /// Deletes message `id`.
    public func delete(_ id: String) throws { try check(secmail_store_delete(handle, id)) }

    /// Opens every message and checks the index: whether all is well, and the JSON report.
    public func verify() throws -> (clean: Bool, reportJSON: String) {
        var clean = false
        var report: UnsafeMutablePointer<CChar>? = nil
        try check(secmail_store_verify(handle, &clean, &report))
        return (clean, take(report))
    }

    /// Makes the index again from the messages; the JSON array of files that did not open.
    public func rebuild() throws -> String {
        var failed: UnsafeMutablePointer<CChar>? = nil
        try check(secmail_store_rebuild(handle, &failed))
        return take(failed)
    }

    /// Changes the bounds (0 keeps one). Not while another thread uses the store.
    public func setLimits(maxMessageSize: UInt64, maxMessages: Int = 0) throws {
        try check(secmail_store_set_limits(handle, maxMessageSize, maxMessages))
    }
}
