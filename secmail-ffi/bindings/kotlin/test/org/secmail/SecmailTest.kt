// The JVM test of the Kotlin binding: runs against the real libsecmail_ffi (test.sh points
// jna.library.path at it) and exits non-zero on the first failed expectation.
package org.secmail

private var checks = 0

private fun expect(cond: Boolean, what: String) {
    checks++
    if (!cond) throw AssertionError("FAILED: $what")
}

private inline fun expectCode(code: Int, what: String, block: () -> Unit) {
    checks++
    try {
        block()
    } catch (e: SecmailException) {
        if (e.code != code) throw AssertionError("FAILED: $what: got ${e.message}, expected code $code")
        if (e.message.isNullOrEmpty()) throw AssertionError("FAILED: $what: no message")
        return
    }
    throw AssertionError("FAILED: $what: no exception, expected code $code")
}

fun main() {
    // The library and the result codes.
    expect(Secmail.abiVersion() == Secmail.ABI_VERSION, "ABI version")
    expect(Secmail.version().isNotEmpty(), "version")
    expect(Secmail.resultName(Secmail.ERR_PASSPHRASE_WRONG) == "SECMAIL_ERR_PASSPHRASE_WRONG", "result name")
    expect(Secmail.resultName(12345) == "SECMAIL_ERR_UNKNOWN", "unknown code")

    // Passphrase container round trip, armored, and its failures.
    val pass = "correct horse".toByteArray()
    val text = "attack at dawn".toByteArray()
    val sealed = Secmail.passphraseEncrypt(pass, text, Secmail.PASSPHRASE_KDF_MINIMUM or Secmail.PASSPHRASE_ARMOR)
    expect(String(sealed).startsWith("-----BEGIN"), "armored container")
    expect(Secmail.passphraseDecrypt(pass, sealed).contentEquals(text), "passphrase round trip")
    expectCode(Secmail.ERR_PASSPHRASE_WRONG, "wrong passphrase") {
        Secmail.passphraseDecrypt("nope".toByteArray(), sealed)
    }
    expectCode(Secmail.ERR_PASSPHRASE_INVALID_CONTAINER, "garbage container") {
        Secmail.passphraseDecrypt(pass, "garbage".toByteArray())
    }
    expectCode(Secmail.ERR_INVALID_ARGUMENT, "unknown flag") {
        Secmail.passphraseEncrypt(pass, text, 0x1000)
    }
    // Empty plaintext comes back as an empty array.
    val empty = Secmail.passphraseEncrypt(pass, ByteArray(0), Secmail.PASSPHRASE_KDF_MINIMUM)
    expect(Secmail.passphraseDecrypt(pass, empty).isEmpty(), "empty plaintext")

    // MIME inspection.
    val json = Secmail.mimeInspectJson(
        "From: Alice <alice@example.org>\r\nSubject: hi\r\nContent-Type: text/plain\r\n\r\nbody\r\n".toByteArray()
    )
    expect(json.contains("\"subject\":\"hi\""), "MIME JSON subject: $json")
    expect(json.contains("\"from\":\"alice@example.org\""), "MIME JSON from")

    // OpenPGP: keys, encrypt + sign, decrypt + verify, a verdict, and the wrong key.
    PgpCert.generate("Alice <alice@example.org>").use { alice ->
        PgpCert.generate("Bob <bob@example.org>").use { bob ->
            expect(alice.fingerprint().length >= 40, "fingerprint")
            val bobPublic = PgpCert.fromBytes(bob.export())
            val alicePublic = alice.toPublic()
            val cipher = alice.signer().use { signer ->
                Secmail.pgpEncrypt("secret text".toByteArray(), listOf(bobPublic), signer)
            }
            expect(String(cipher).startsWith("-----BEGIN PGP MESSAGE-----"), "armored message")
            val d = Secmail.pgpDecrypt(cipher, listOf(bob), listOf(alicePublic))
            expect(String(d.plaintext) == "secret text", "OpenPGP round trip")
            expect(d.fullyEncrypted(), "verdict: encrypted")
            expect(d.fullySigned(), "verdict: signed")
            expect(d.verdictJson.contains(alice.fingerprint(), ignoreCase = true), "verdict JSON names the signer: ${d.verdictJson}")
            PgpCert.generate("Carol <carol@example.org>").use { carol ->
                expectCode(Secmail.ERR_PGP_CANNOT_DECRYPT, "wrong key") {
                    Secmail.pgpDecrypt(cipher, listOf(carol))
                }
            }
            expectCode(Secmail.ERR_PGP_MALFORMED, "not a certificate") {
                PgpCert.fromBytes("not a key".toByteArray())
            }
            bobPublic.close()
            alicePublic.close()
            bobPublic.close() // closing twice is harmless
            var threw = false
            try {
                bobPublic.fingerprint()
            } catch (e: IllegalStateException) {
                threw = true
            }
            expect(threw, "use after close is refused, not a crash")
        }
    }
    // The encrypted store: a passphrase owner, and an OpenPGP owner with an add-only writer.
    val storeDir = java.nio.file.Files.createTempDirectory("secmail-kotlin-store").toFile()
    try {
        val p = java.io.File(storeDir, "pass").path
        val storePass = "store pass".toByteArray()
        val mail = "From: Alice <alice@example.org>\r\nSubject: stored\r\n\r\nkept safe\r\n".toByteArray()
        val id = Store.initPassphrase(p, storePass, Secmail.PASSPHRASE_KDF_MINIMUM).use { st ->
            val id = st.add(mail)
            expect(st.get(id).contentEquals(mail), "store round trip")
            expect(st.listJson().contains("\"subject\":\"stored\""), "store list JSON")
            expect(st.flag(id, Secmail.STORE_SEEN or Secmail.STORE_FLAGGED) == (Secmail.STORE_SEEN or Secmail.STORE_FLAGGED), "flags set")
            expect(st.flag(id, 0, Secmail.STORE_FLAGGED) == Secmail.STORE_SEEN, "flag cleared")
            expectCode(Secmail.ERR_INVALID_ARGUMENT, "unknown flag") { st.flag(id, 0x100) }
            expectCode(Secmail.ERR_NOT_FOUND, "unknown id") { st.get("0.nosuchid") }
            val (clean, report) = st.verify()
            expect(clean && report.contains("\"ok\":1"), "verify: $report")
            expect(st.rebuild() == "[]", "rebuild")
            st.setLimits(8)
            expectCode(Secmail.ERR_LIMIT_EXCEEDED, "message past the limit") { st.add(mail) }
            st.setLimits(1L shl 20)
            id
        }
        expectCode(Secmail.ERR_STORE_WRONG_KEY, "wrong store passphrase") {
            Store.openPassphrase(p, "wrong".toByteArray())
        }
        Store.openAdd(p, storePass).use { w ->
            val id2 = w.add(mail)
            expectCode(Secmail.ERR_MISUSE, "an add-only handle cannot read") { w.get(id2) }
        }
        Store.openPassphrase(p, storePass).use { st ->
            expect(st.get(id).contentEquals(mail), "reopened as owner")
            expect(st.resealPassphrase("new pass".toByteArray(), Secmail.PASSPHRASE_KDF_MINIMUM) >= 2, "reseal")
            st.delete(id)
            expectCode(Secmail.ERR_NOT_FOUND, "deleted") { st.get(id) }
        }
        expectCode(Secmail.ERR_STORE_WRONG_KEY, "old passphrase after reseal") { Store.openPassphrase(p, storePass) }

        val g = java.io.File(storeDir, "pgp").path
        PgpCert.generate("Dana <dana@example.org>").use { dana ->
            val id3 = dana.toPublic().use { pub -> Store.initPgp(g, pub).use { w -> w.add(mail) } }
            expectCode(Secmail.ERR_STORE_SCHEME_MISMATCH, "passphrase for an OpenPGP store") {
                Store.openPassphrase(g, storePass)
            }
            PgpCert.generate("Eve <eve@example.org>").use { eve ->
                expectCode(Secmail.ERR_STORE_WRONG_KEY, "not the owner's key") { Store.openPgp(g, eve) }
            }
            Store.openPgp(g, dana).use { st -> expect(st.get(id3).contentEquals(mail), "OpenPGP store round trip") }
        }
        expectCode(Secmail.ERR_STORE_INVALID, "not a store") { Store.openAdd(storeDir.path) }
    } finally {
        storeDir.deleteRecursively()
    }

    // Transport error paths (no server needed): a bad URL, a refused connection, a cancelled
    // token (nothing is attempted).
    expectCode(Secmail.ERR_TRANSPORT_CONFIG, "bad URL") { SmtpSession.connect("http://example.org") }
    val closedPort = java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress()).use { it.localPort }
    expectCode(Secmail.ERR_TRANSPORT_CONNECT, "refused") { SmtpSession.connect("smtps://127.0.0.1:$closedPort") }
    Cancellation().use { c ->
        c.cancel()
        expectCode(Secmail.ERR_CANCELLED, "cancelled before the start") {
            SmtpSession.connect("smtps://127.0.0.1:$closedPort", cancel = c)
        }
    }
    // A real send through the Postfix of scripts/mailstack.sh (test.sh provides the stack).
    val dir = System.getenv("SECMAIL_MAILSTACK_DIR") ?: throw AssertionError("FAILED: SECMAIL_MAILSTACK_DIR is not set (run test.sh)")
    val env = java.io.File(dir, "mailstack.env").readLines()
        .filter { it.contains('=') }
        .associate { it.substringBefore('=') to it.substringAfter('=') }
    val alice = env.getValue("MAILSTACK_ALICE_USER")
    val bob = env.getValue("MAILSTACK_BOB_USER")
    SmtpSession.connect(
        "smtps://${env.getValue("MAILSTACK_TLS_NAME")}:${env.getValue("MAILSTACK_SMTPS_PORT")}",
        env.getValue("MAILSTACK_CA_FILE"), alice, env.getValue("MAILSTACK_ALICE_PASSWORD")
    ).use { smtp ->
        val msg = "From: $alice\r\nTo: $bob\r\nSubject: from Kotlin\r\n\r\nHello from the JVM.\r\n"
        expect(smtp.send(alice, listOf(bob, "nobody@example.test"), msg.toByteArray()) == 1, "SMTP send: one recipient accepted")
    }
    println("kotlin binding: $checks checks passed")
}
