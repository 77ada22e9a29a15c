// The Kotlin/JVM binding of secmail's C ABI (secmail-ffi), over JNA.
//
// Every C function that returns a secmail_result_t is called through `check`, which turns a
// non-zero code into a SecmailException carrying the code, its name and the thread's last
// error message. Library-owned buffers and strings are copied into the JVM and then freed
// (and wiped) with secmail_buffer_free / secmail_string_free; handles are AutoCloseable.
// The rules behind this are in docs/ffi.md.
package org.secmail

import com.sun.jna.IntegerType
import com.sun.jna.Library
import com.sun.jna.Native
import com.sun.jna.Pointer
import com.sun.jna.Structure
import com.sun.jna.ptr.PointerByReference

/** C `size_t`. */
class SizeT @JvmOverloads constructor(value: Long = 0) : IntegerType(Native.SIZE_T_SIZE, value, true) {
    override fun toByte(): Byte = toInt().toByte()
    override fun toChar(): Char = toInt().toChar()
    override fun toShort(): Short = toInt().toShort()
}

/** `secmail_buffer_t`: library-owned bytes, freed only with `secmail_buffer_free`. */
@Structure.FieldOrder("data", "len")
class SecmailBuffer : Structure() {
    @JvmField var data: Pointer? = null
    @JvmField var len: SizeT = SizeT(0)

    /** Copies the bytes into the JVM heap. */
    fun bytes(): ByteArray {
        val n = len.toLong()
        val p = data
        if (p == null || n == 0L) return ByteArray(0)
        return p.getByteArray(0, n.toInt())
    }
}

/** The C functions used by this binding (names and signatures as in `secmail.h`). */
@Suppress("FunctionName")
interface SecmailNative : Library {
    fun secmail_abi_version(): Int
    fun secmail_version(): String
    fun secmail_result_str(code: Int): String
    fun secmail_last_error_message(): Pointer
    fun secmail_buffer_free(buffer: SecmailBuffer)
    fun secmail_string_free(s: Pointer?)

    fun secmail_mime_inspect_json(message: ByteArray?, len: SizeT, json: PointerByReference): Int

    fun secmail_passphrase_encrypt(
        passphrase: ByteArray?, passphraseLen: SizeT, data: ByteArray?, dataLen: SizeT,
        flags: Int, out: SecmailBuffer
    ): Int
    fun secmail_passphrase_decrypt(
        passphrase: ByteArray?, passphraseLen: SizeT, container: ByteArray?, containerLen: SizeT,
        out: SecmailBuffer
    ): Int

    fun secmail_pgp_generate(
        userid: String, algorithm: Int, flags: Int, passphrase: ByteArray?, passphraseLen: SizeT,
        key: PointerByReference, revocation: SecmailBuffer?
    ): Int
    fun secmail_cert_from_bytes(data: ByteArray?, len: SizeT, cert: PointerByReference): Int
    fun secmail_cert_to_public(cert: Pointer, publicCert: PointerByReference): Int
    fun secmail_cert_export(cert: Pointer, flags: Int, out: SecmailBuffer): Int
    fun secmail_cert_fingerprint(cert: Pointer, fingerprint: PointerByReference): Int
    fun secmail_cert_free(cert: Pointer?)

    fun secmail_pgp_signer_new(
        key: Pointer, passphrase: ByteArray?, passphraseLen: SizeT, signer: PointerByReference
    ): Int
    fun secmail_pgp_signer_free(signer: Pointer?)

    fun secmail_pgp_encrypt(
        data: ByteArray?, len: SizeT, recipients: Array<Pointer>?, recipientCount: SizeT,
        password: ByteArray?, passwordLen: SizeT, signer: Pointer?, flags: Int, out: SecmailBuffer
    ): Int
    fun secmail_pgp_decrypt_options_new(options: PointerByReference): Int
    fun secmail_pgp_decrypt_options_add_cert(options: Pointer, cert: Pointer, role: Int): Int
    fun secmail_pgp_decrypt_options_free(options: Pointer?)
    fun secmail_pgp_decrypt(
        message: ByteArray?, len: SizeT, options: Pointer, out: SecmailBuffer,
        verdict: PointerByReference
    ): Int
    fun secmail_verdict_to_json(verdict: Pointer, json: PointerByReference): Int
    fun secmail_verdict_flags(verdict: Pointer, flags: com.sun.jna.ptr.IntByReference): Int
    fun secmail_verdict_free(verdict: Pointer?)

    fun secmail_cancel_new(cancel: PointerByReference): Int
    fun secmail_cancel_cancel(cancel: Pointer): Int
    fun secmail_cancel_free(cancel: Pointer?)
    fun secmail_server_from_url(url: String, server: PointerByReference): Int
    fun secmail_server_set_ca_file(server: Pointer, path: String): Int
    fun secmail_server_set_timeouts(server: Pointer, connectMs: Int, ioMs: Int): Int
    fun secmail_server_set_login(server: Pointer, user: String, password: String): Int
    fun secmail_server_free(server: Pointer?)
    fun secmail_smtp_connect(server: Pointer, cancel: Pointer?, smtp: PointerByReference): Int
    fun secmail_smtp_send(
        smtp: Pointer, from: String, to: Array<String>, toCount: SizeT, message: ByteArray?,
        len: SizeT, flags: Int, cancel: Pointer?, report: PointerByReference
    ): Int
    fun secmail_send_report_accepted_count(report: Pointer, count: PointerByReference): Int
    fun secmail_send_report_free(report: Pointer?)
    fun secmail_smtp_quit(smtp: Pointer?): Int
    fun secmail_smtp_free(smtp: Pointer?)

    fun secmail_store_init_pgp(dir: String, cert: Pointer, store: PointerByReference): Int
    fun secmail_store_init_passphrase(
        dir: String, passphrase: ByteArray?, passphraseLen: SizeT, flags: Int, store: PointerByReference
    ): Int
    fun secmail_store_open_add(
        dir: String, passphrase: ByteArray?, passphraseLen: SizeT, store: PointerByReference
    ): Int
    fun secmail_store_open_pgp(
        dir: String, key: Pointer, keyPassphrase: ByteArray?, keyPassphraseLen: SizeT,
        store: PointerByReference
    ): Int
    fun secmail_store_open_passphrase(
        dir: String, passphrase: ByteArray?, passphraseLen: SizeT, store: PointerByReference
    ): Int
    fun secmail_store_set_limits(store: Pointer, maxMessageSize: Long, maxMessages: SizeT): Int
    fun secmail_store_add(store: Pointer, message: ByteArray?, len: SizeT, id: PointerByReference): Int
    fun secmail_store_list_json(store: Pointer, json: PointerByReference): Int
    fun secmail_store_get(store: Pointer, id: String, message: SecmailBuffer): Int
    fun secmail_store_flag(
        store: Pointer, id: String, set: Int, clear: Int, flags: com.sun.jna.ptr.IntByReference?
    ): Int
    fun secmail_store_delete(store: Pointer, id: String): Int
    fun secmail_store_verify(
        store: Pointer, clean: com.sun.jna.ptr.ByteByReference, report: PointerByReference?
    ): Int
    fun secmail_store_rebuild(store: Pointer, failed: PointerByReference?): Int
    fun secmail_store_reseal_passphrase(
        store: Pointer, passphrase: ByteArray?, passphraseLen: SizeT, flags: Int,
        count: PointerByReference
    ): Int
    fun secmail_store_free(store: Pointer?)
}

/** A failed call: the `secmail_result_t` code, its name, and the library's message. */
class SecmailException(val code: Int, val codeName: String, message: String) :
    Exception("$codeName ($code): $message")

/** The library: loaded once from `jna.library.path` (or the system's library path). */
object Secmail {
    /** The ABI version this binding was written against (`SECMAIL_ABI_VERSION`). */
    const val ABI_VERSION = 1

    const val ERR_NULL_ARGUMENT = 100
    const val ERR_INVALID_ARGUMENT = 101
    const val ERR_PASSPHRASE_INVALID_CONTAINER = 300
    const val ERR_PASSPHRASE_WRONG = 301
    const val ERR_PASSPHRASE_DECRYPTION_FAILED = 302
    const val ERR_PGP_MALFORMED = 400
    const val ERR_PGP_CANNOT_DECRYPT = 403
    const val ERR_CANCELLED = 104
    const val ERR_TRANSPORT_CONNECT = 600
    const val ERR_TRANSPORT_CONFIG = 613
    const val ERR_MISUSE = 105
    const val ERR_NOT_FOUND = 107
    const val ERR_LIMIT_EXCEEDED = 201
    const val ERR_STORE_INVALID = 700
    const val ERR_STORE_WRONG_KEY = 701
    const val ERR_STORE_SCHEME_MISMATCH = 702
    const val ERR_STORE_DAMAGED = 703

    const val STORE_SEEN = 1
    const val STORE_ANSWERED = 2
    const val STORE_FLAGGED = 4
    const val STORE_DELETED = 8
    const val STORE_DRAFT = 16

    const val PASSPHRASE_ARMOR = 1
    const val PASSPHRASE_KDF_MINIMUM = 8
    const val PGP_ARMOR = 1
    const val VERDICT_FULLY_ENCRYPTED = 1
    const val VERDICT_FULLY_SIGNED = 2
    const val VERDICT_SIGNED_BY_SENDER = 4

    internal val lib: SecmailNative = Native.load("secmail_ffi", SecmailNative::class.java)

    init {
        val abi = lib.secmail_abi_version()
        check(abi == ABI_VERSION) { "libsecmail_ffi has ABI $abi; this binding needs $ABI_VERSION" }
    }

    /** Throws a [SecmailException] for a non-zero code (with this thread's last error). */
    internal fun check(code: Int) {
        if (code != 0) {
            val message = lib.secmail_last_error_message().getString(0, "UTF-8")
            throw SecmailException(code, lib.secmail_result_str(code), message)
        }
    }

    /** Copies a filled buffer out and frees (wipes) the library's copy. */
    internal fun take(buf: SecmailBuffer): ByteArray {
        buf.read()
        try {
            return buf.bytes()
        } finally {
            lib.secmail_buffer_free(buf)
        }
    }

    /** Copies a library-owned string out and frees (wipes) it. */
    internal fun takeString(ref: PointerByReference): String {
        val p = ref.value ?: return ""
        try {
            return p.getString(0, "UTF-8")
        } finally {
            lib.secmail_string_free(p)
        }
    }

    internal fun size(a: ByteArray?) = SizeT((a?.size ?: 0).toLong())

    /** The library's version, e.g. "0.1.0". */
    fun version(): String = lib.secmail_version()

    /** The ABI version of the loaded library. */
    fun abiVersion(): Int = lib.secmail_abi_version()

    /** The name of a result code ("SECMAIL_ERR_UNKNOWN" for one this library lacks). */
    fun resultName(code: Int): String = lib.secmail_result_str(code)

    /** The MIME tree of a message as JSON (the shape of `secmail mime inspect --json`). */
    fun mimeInspectJson(message: ByteArray): String {
        val ref = PointerByReference()
        check(lib.secmail_mime_inspect_json(message, size(message), ref))
        return takeString(ref)
    }

    /** Encrypts `data` under `passphrase` into secmail's passphrase container. */
    fun passphraseEncrypt(passphrase: ByteArray, data: ByteArray, flags: Int = 0): ByteArray {
        val out = SecmailBuffer()
        check(lib.secmail_passphrase_encrypt(passphrase, size(passphrase), data, size(data), flags, out))
        return take(out)
    }

    /** Decrypts a passphrase container; all of the plaintext or a [SecmailException]. */
    fun passphraseDecrypt(passphrase: ByteArray, container: ByteArray): ByteArray {
        val out = SecmailBuffer()
        check(lib.secmail_passphrase_decrypt(passphrase, size(passphrase), container, size(container), out))
        return take(out)
    }

    /** Encrypts `data` to `recipients` (certificates), optionally signed by `signer`. */
    fun pgpEncrypt(
        data: ByteArray, recipients: List<PgpCert>, signer: PgpSigner? = null, armor: Boolean = true
    ): ByteArray {
        val out = SecmailBuffer()
        val ptrs = recipients.map { it.handle() }.toTypedArray()
        check(
            lib.secmail_pgp_encrypt(
                data, size(data), if (ptrs.isEmpty()) null else ptrs, SizeT(ptrs.size.toLong()),
                null, SizeT(0), signer?.handle(), if (armor) PGP_ARMOR else 0, out
            )
        )
        return take(out)
    }

    /** Decrypts an OpenPGP message with `keys`, verifying signatures with `verifyWith`. */
    fun pgpDecrypt(
        message: ByteArray, keys: List<PgpCert>, verifyWith: List<PgpCert> = emptyList()
    ): Decrypted {
        val optsRef = PointerByReference()
        check(lib.secmail_pgp_decrypt_options_new(optsRef))
        val opts = optsRef.value
        try {
            for (k in keys) check(lib.secmail_pgp_decrypt_options_add_cert(opts, k.handle(), 0))
            for (c in verifyWith) check(lib.secmail_pgp_decrypt_options_add_cert(opts, c.handle(), 1))
            val out = SecmailBuffer()
            val verdictRef = PointerByReference()
            check(lib.secmail_pgp_decrypt(message, size(message), opts, out, verdictRef))
            val plain = take(out)
            val verdict = verdictRef.value
            try {
                val flags = com.sun.jna.ptr.IntByReference()
                check(lib.secmail_verdict_flags(verdict, flags))
                val json = PointerByReference()
                check(lib.secmail_verdict_to_json(verdict, json))
                return Decrypted(plain, flags.value, takeString(json))
            } finally {
                lib.secmail_verdict_free(verdict)
            }
        } finally {
            lib.secmail_pgp_decrypt_options_free(opts)
        }
    }
}

/** The outcome of a decryption: plaintext, the verdict's flag bits and its JSON. */
class Decrypted(val plaintext: ByteArray, val verdictFlags: Int, val verdictJson: String) {
    fun fullyEncrypted() = verdictFlags and Secmail.VERDICT_FULLY_ENCRYPTED != 0
    fun fullySigned() = verdictFlags and Secmail.VERDICT_FULLY_SIGNED != 0
}

/** An owned C handle, freed once by [close] (`java.io.Closeable`, so `use {}` works with
 * Kotlin 1.3's stdlib alone). */
abstract class Handle internal constructor(private var ptr: Pointer?) : java.io.Closeable {
    internal fun handle(): Pointer = ptr ?: throw IllegalStateException("used after close()")
    protected abstract fun free(p: Pointer)
    override fun close() {
        val p = ptr
        ptr = null
        if (p != null) free(p)
    }
}

/** An OpenPGP certificate, possibly with secret keys (`secmail_cert_t`). */
class PgpCert internal constructor(p: Pointer) : Handle(p) {
    override fun free(p: Pointer) = Secmail.lib.secmail_cert_free(p)

    /** The fingerprint, upper-case hex. */
    fun fingerprint(): String {
        val ref = PointerByReference()
        Secmail.check(Secmail.lib.secmail_cert_fingerprint(handle(), ref))
        return Secmail.takeString(ref)
    }

    /** The certificate without its secret keys. */
    fun toPublic(): PgpCert {
        val ref = PointerByReference()
        Secmail.check(Secmail.lib.secmail_cert_to_public(handle(), ref))
        return PgpCert(ref.value)
    }

    /** The public certificate, armored or binary. */
    fun export(armor: Boolean = true): ByteArray {
        val out = SecmailBuffer()
        Secmail.check(Secmail.lib.secmail_cert_export(handle(), if (armor) Secmail.PGP_ARMOR else 0, out))
        return Secmail.take(out)
    }

    /** A signing key from this key, unlocked with `passphrase` (empty when unprotected). */
    fun signer(passphrase: ByteArray = ByteArray(0)): PgpSigner {
        val ref = PointerByReference()
        Secmail.check(
            Secmail.lib.secmail_pgp_signer_new(handle(), passphrase, Secmail.size(passphrase), ref)
        )
        return PgpSigner(ref.value)
    }

    companion object {
        /** Generates a Cv25519 key for `userid`, protected by `passphrase` when not empty. */
        @JvmStatic
        fun generate(userid: String, passphrase: ByteArray = ByteArray(0)): PgpCert {
            val ref = PointerByReference()
            Secmail.check(
                Secmail.lib.secmail_pgp_generate(
                    userid, 0, 0, passphrase, Secmail.size(passphrase), ref, null
                )
            )
            return PgpCert(ref.value)
        }

        /** Reads one certificate or key, armored or binary. */
        @JvmStatic
        fun fromBytes(data: ByteArray): PgpCert {
            val ref = PointerByReference()
            Secmail.check(Secmail.lib.secmail_cert_from_bytes(data, Secmail.size(data), ref))
            return PgpCert(ref.value)
        }
    }
}

/** An unlocked signing key (`secmail_pgp_signer_t`); its secret is wiped on [close]. */
class PgpSigner internal constructor(p: Pointer) : Handle(p) {
    override fun free(p: Pointer) = Secmail.lib.secmail_pgp_signer_free(p)
}

/** A cancellation token for the blocking transport calls; [cancel] may be called from any
 * thread while a call runs on another. Close it only after those calls have returned. */
class Cancellation : Handle(newCancel()) {
    override fun free(p: Pointer) = Secmail.lib.secmail_cancel_free(p)

    /** Sets the token: the calls given it stop with [Secmail.ERR_CANCELLED]. */
    fun cancel() = Secmail.check(Secmail.lib.secmail_cancel_cancel(handle()))

    private companion object {
        fun newCancel(): Pointer {
            val ref = PointerByReference()
            Secmail.check(Secmail.lib.secmail_cancel_new(ref))
            return ref.value
        }
    }
}

/** An SMTP submission session (blocking: use it from a background thread). */
class SmtpSession private constructor(p: Pointer) : Handle(p) {
    override fun free(p: Pointer) = Secmail.lib.secmail_smtp_free(p)

    /** Sends one message; returns how many recipients the server accepted. */
    fun send(from: String, to: List<String>, message: ByteArray, cancel: Cancellation? = null): Int {
        val ref = PointerByReference()
        Secmail.check(
            Secmail.lib.secmail_smtp_send(
                handle(), from, to.toTypedArray(), SizeT(to.size.toLong()), message,
                Secmail.size(message), 0, cancel?.handle(), ref
            )
        )
        val report = ref.value
        try {
            val count = PointerByReference()
            Secmail.check(Secmail.lib.secmail_send_report_accepted_count(report, count))
            return Pointer.nativeValue(count.value).toInt()
        } finally {
            Secmail.lib.secmail_send_report_free(report)
        }
    }

    companion object {
        /**
         * Connects to `url` (`smtps://host:465` or `smtp://host:587` for STARTTLS), trusting
         * `caFile` (or the Mozilla roots when null), and logs in when `user` is given.
         */
        @JvmStatic
        fun connect(
            url: String, caFile: String? = null, user: String? = null, password: String? = null,
            ioTimeoutMs: Int = 60000, cancel: Cancellation? = null
        ): SmtpSession {
            val sref = PointerByReference()
            Secmail.check(Secmail.lib.secmail_server_from_url(url, sref))
            val server = sref.value
            try {
                if (caFile != null) Secmail.check(Secmail.lib.secmail_server_set_ca_file(server, caFile))
                Secmail.check(Secmail.lib.secmail_server_set_timeouts(server, 10000, ioTimeoutMs))
                if (user != null) Secmail.check(Secmail.lib.secmail_server_set_login(server, user, password ?: ""))
                val ref = PointerByReference()
                Secmail.check(Secmail.lib.secmail_smtp_connect(server, cancel?.handle(), ref))
                return SmtpSession(ref.value)
            } finally {
                Secmail.lib.secmail_server_free(server)
            }
        }
    }
}

/**
 * An encrypted store (`secmail_store_t`): opened for adding (the public half) or as the owner.
 * Its methods may be called from several threads at once, except [setLimits] and
 * [resealPassphrase] (docs/ffi.md, "The encrypted store"). Messages come back as `ByteArray`s,
 * which the JVM cannot wipe: keep them short-lived.
 */
class Store private constructor(p: Pointer) : Handle(p) {
    override fun free(p: Pointer) = Secmail.lib.secmail_store_free(p)

    /** Seals one message into the store; returns its id once it is durable. */
    fun add(message: ByteArray): String {
        val ref = PointerByReference()
        Secmail.check(Secmail.lib.secmail_store_add(handle(), message, Secmail.size(message), ref))
        return Secmail.takeString(ref)
    }

    /** Every message as a JSON array (`id`, `added`, `date`, `from`, `subject`, `size`, `flags`). */
    fun listJson(): String {
        val ref = PointerByReference()
        Secmail.check(Secmail.lib.secmail_store_list_json(handle(), ref))
        return Secmail.takeString(ref)
    }

    /** Message `id`, byte-exact as added (only after it authenticated). */
    fun get(id: String): ByteArray {
        val out = SecmailBuffer()
        Secmail.check(Secmail.lib.secmail_store_get(handle(), id, out))
        return Secmail.take(out)
    }

    /** Sets and clears `STORE_*` flags on message `id`; returns its new flags. */
    fun flag(id: String, set: Int, clear: Int = 0): Int {
        val flags = com.sun.jna.ptr.IntByReference()
        Secmail.check(Secmail.lib.secmail_store_flag(handle(), id, set, clear, flags))
        return flags.value
    }

    /** Deletes message `id`. */
    fun delete(id: String) = Secmail.check(Secmail.lib.secmail_store_delete(handle(), id))

    /** Opens every message and checks the index: whether all is well, and the JSON report. */
    fun verify(): Pair<Boolean, String> {
        val clean = com.sun.jna.ptr.ByteByReference()
        val report = PointerByReference()
        Secmail.check(Secmail.lib.secmail_store_verify(handle(), clean, report))
        return Pair(clean.value.toInt() != 0, Secmail.takeString(report))
    }

    /** Makes the index again from the messages; returns the JSON array of files that did not open. */
    fun rebuild(): String {
        val ref = PointerByReference()
        Secmail.check(Secmail.lib.secmail_store_rebuild(handle(), ref))
        return Secmail.takeString(ref)
    }

    /** Changes the bounds (0 keeps one): largest message in bytes, most messages. */
    fun setLimits(maxMessageSize: Long, maxMessages: Long = 0) =
        Secmail.check(Secmail.lib.secmail_store_set_limits(handle(), maxMessageSize, SizeT(maxMessages)))

    /** Re-seals everything to a new passphrase; returns how many objects were re-sealed. */
    fun resealPassphrase(passphrase: ByteArray, kdfFlags: Int = 0): Long {
        val count = PointerByReference()
        Secmail.check(
            Secmail.lib.secmail_store_reseal_passphrase(
                handle(), passphrase, Secmail.size(passphrase), kdfFlags, count
            )
        )
        return Pointer.nativeValue(count.value)
    }

    companion object {
        private fun made(rc: Int, ref: PointerByReference): Store {
            Secmail.check(rc)
            return Store(ref.value)
        }

        /** Makes a store in `dir` owned by an OpenPGP certificate; the handle can add. */
        @JvmStatic
        fun initPgp(dir: String, cert: PgpCert): Store {
            val ref = PointerByReference()
            return made(Secmail.lib.secmail_store_init_pgp(dir, cert.handle(), ref), ref)
        }

        /** Makes a passphrase store in `dir` (`kdfFlags`: 0 or `PASSPHRASE_KDF_MINIMUM` for tests);
         * the handle is the owner's. */
        @JvmStatic
        fun initPassphrase(dir: String, passphrase: ByteArray, kdfFlags: Int = 0): Store {
            val ref = PointerByReference()
            return made(
                Secmail.lib.secmail_store_init_passphrase(
                    dir, passphrase, Secmail.size(passphrase), kdfFlags, ref
                ), ref
            )
        }

        /** Opens a store for adding only (the passphrase for a passphrase store, else empty). */
        @JvmStatic
        fun openAdd(dir: String, passphrase: ByteArray = ByteArray(0)): Store {
            val ref = PointerByReference()
            return made(Secmail.lib.secmail_store_open_add(dir, passphrase, Secmail.size(passphrase), ref), ref)
        }

        /** Opens an OpenPGP store as its owner with the owner's secret key. */
        @JvmStatic
        fun openPgp(dir: String, key: PgpCert, keyPassphrase: ByteArray = ByteArray(0)): Store {
            val ref = PointerByReference()
            return made(
                Secmail.lib.secmail_store_open_pgp(
                    dir, key.handle(), keyPassphrase, Secmail.size(keyPassphrase), ref
                ), ref
            )
        }

        /** Opens a passphrase store as its owner. */
        @JvmStatic
        fun openPassphrase(dir: String, passphrase: ByteArray): Store {
            val ref = PointerByReference()
            return made(
                Secmail.lib.secmail_store_open_passphrase(dir, passphrase, Secmail.size(passphrase), ref),
                ref
            )
        }
    }
}
