#!/usr/bin/env python3
"""An independent reader of the secmail passphrase container, written from
docs/passphrase-format.md alone, that checks every vector in testdata/passphrase/.

Needs: pip install cryptography argon2-cffi
Run:   python3 scripts/passphrase_check.py [VECTOR_DIR]
Exits 0 when every vector has the outcome its `expect:` line states, 1 otherwise.
"""

import base64
import binascii
import hashlib
import hmac
import os
import struct
import sys

try:
    from argon2.low_level import Type, hash_secret_raw
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
except ImportError as e:  # a missing tool is a failure with a clear message, not a skip
    sys.exit(f"passphrase_check.py: {e}; install with: pip install cryptography argon2-cffi")

# §3 -------------------------------------------------------------------------------------------
MAGIC = bytes([0x89, 0x53, 0x4D, 0x50, 0x43, 0x0D, 0x0A, 0x1A])
HEADER_LEN = 88
AUTH_LEN = 56
TAG_LEN = 16
# Format bounds and the default reader limits (§3.1).
MEM_MIN, MEM_MAX = 8192, 1048576
PASSES_MAX, LANES_MAX = 16, 16
LIMIT_MEM, LIMIT_PASSES, LIMIT_LANES = 262144, 8, 16
# §7
BEGIN = b"-----BEGIN SECMAIL PASSPHRASE ENCRYPTED FILE-----"
END = b"-----END SECMAIL PASSPHRASE ENCRYPTED FILE-----"
B64 = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


class Failure(Exception):
    """An outcome class of §6: 'header failure', 'armor failure', 'wrong passphrase',
    'payload failure'."""

    def __init__(self, kind, why):
        super().__init__(f"{kind}: {why}")
        self.kind = kind


def dearmor(data):
    """§7. Returns the binary container."""
    ws = b" \t\r\n"
    i = 0
    while i < len(data) and data[i] in ws:
        i += 1
    rest = data[i:]
    lines = []
    pos = 0
    while pos < len(rest):
        nl = rest.find(b"\n", pos)
        if nl < 0:
            lines.append((rest[pos:], False))
            break
        line = rest[pos:nl]
        if line.endswith(b"\r"):
            line = line[:-1]
        lines.append((line, True))
        pos = nl + 1
    if not lines or lines[0] != (BEGIN, True):
        raise Failure("armor failure", "no BEGIN line")
    try:
        end_at = next(k for k, (l, _) in enumerate(lines) if l == END)
    except StopIteration:
        raise Failure("armor failure", "no END line")
    for line, _ in lines[end_at + 1 :]:
        if line.strip(ws):
            raise Failure("armor failure", "text after END")
    data_lines = [l for l, _ in lines[1:end_at]]
    if not data_lines:
        raise Failure("armor failure", "no data")
    out = b""
    for k, line in enumerate(data_lines):
        final = k == len(data_lines) - 1
        if not line or len(line) > 64 or len(line) % 4 or not set(line) <= B64:
            raise Failure("armor failure", f"bad data line {k}")
        if not final and (len(line) != 64 or b"=" in line):
            raise Failure("armor failure", f"short or padded line {k} is not the last")
        try:
            decoded = base64.b64decode(line, validate=True)
        except binascii.Error:
            raise Failure("armor failure", f"bad base64 on line {k}")
        # Canonical: re-encoding gives the same text (unused bits zero).
        if base64.b64encode(decoded) != line:
            raise Failure("armor failure", f"non-canonical base64 on line {k}")
        out += decoded
    return out


def hkdf(salt, ikm, info):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def decrypt(container, passphrase):
    """§6, steps 1 to 6. Returns the plaintext or raises Failure."""
    if not container:
        raise Failure("header failure", "empty input")
    if container[:1] != MAGIC[:1]:
        container = dearmor(container)
    head = container[:HEADER_LEN]
    n = min(len(head), 8)
    if head[:n] != MAGIC[:n]:
        raise Failure("header failure", "magic")
    if len(head) > 8 and head[8] != 1:
        raise Failure("header failure", "version")
    if len(head) < HEADER_LEN:
        raise Failure("header failure", "truncated header")
    kdf_id = head[9]
    m, t, p = struct.unpack(">III", head[10:22])
    kdf_salt = head[22:38]
    aead_id, chunk_log2 = head[38], head[39]
    payload_salt = head[40:56]
    header_tag = head[56:88]
    if kdf_id != 1:
        raise Failure("header failure", "kdf id")
    if aead_id not in (1, 2):
        raise Failure("header failure", "aead id")
    if not 10 <= chunk_log2 <= 20:
        raise Failure("header failure", "chunk size")
    if not (MEM_MIN <= m <= MEM_MAX and 1 <= t <= PASSES_MAX and 1 <= p <= LANES_MAX):
        raise Failure("header failure", "KDF costs outside the format bounds")
    if m > LIMIT_MEM or t > LIMIT_PASSES or p > LIMIT_LANES:
        raise Failure("header failure", "KDF costs over the reader limits")

    # §4
    pk = hash_secret_raw(
        secret=passphrase, salt=kdf_salt, time_cost=t, memory_cost=m, parallelism=p,
        hash_len=32, type=Type.ID, version=0x13,
    )
    auth = head[:AUTH_LEN]
    header_key = hkdf(b"", pk, b"secmail-passphrase-v1 header")
    if not hmac.compare_digest(hmac.new(header_key, auth, hashlib.sha256).digest(), header_tag):
        raise Failure("wrong passphrase", "header tag")
    payload_key = hkdf(payload_salt, pk, b"secmail-passphrase-v1 payload" + auth)
    aead = AESGCM(payload_key) if aead_id == 1 else ChaCha20Poly1305(payload_key)

    # §5, §6 step 6
    payload = container[HEADER_LEN:]
    sealed = (1 << chunk_log2) + TAG_LEN
    if not payload:
        raise Failure("payload failure", "no chunk")
    pieces = [payload[k : k + sealed] for k in range(0, len(payload), sealed)]
    out = []
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1
        if i >= 1 << 32:
            raise Failure("payload failure", "too many chunks")
        if len(piece) < TAG_LEN:
            raise Failure("payload failure", "final piece shorter than a tag")
        if last and len(piece) == TAG_LEN and i > 0:
            raise Failure("payload failure", "empty last chunk after a full one")
        nonce = bytes(7) + struct.pack(">I", i) + (b"\x01" if last else b"\x00")
        try:
            out.append(aead.decrypt(nonce, piece, b""))
        except InvalidTag:
            raise Failure("payload failure", f"chunk {i}")
    return b"".join(out)


def parse_vector(raw):
    head, sep, body = raw.partition(b"\n\n")
    if not sep:
        raise ValueError("no blank line after the headers")
    fields = {}
    for line in head.decode("utf-8").split("\n"):
        key, _, value = line.partition(": ")
        fields[key] = value
    return fields, body


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    vdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "testdata", "passphrase")
    names = sorted(n for n in os.listdir(vdir) if n != "README.md")
    if not names:
        sys.exit(f"no vectors in {vdir}")
    passed = failed = 0
    for name in names:
        with open(os.path.join(vdir, name), "rb") as f:
            fields, body = parse_vector(f.read())
        expect = fields["expect"]
        detail = ""
        try:
            plain = decrypt(body, fields["passphrase"].encode("utf-8"))
            got = "success"
            if hashlib.sha256(plain).hexdigest() != fields.get("payload"):
                got = "success with the wrong plaintext"
        except Failure as e:
            got = e.kind
            detail = str(e)
        if got == expect:
            passed += 1
        else:
            failed += 1
            print(f"FAIL {name}: expected {expect}, got {got}" + (f" ({detail})" if detail else ""))
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
