#!/usr/bin/env python3
"""Writes the deterministic MIME fixtures of secmail-core's tests into this directory.

Only the standard library `email` package is used. Boundaries, dates and Message-IDs are
fixed, so running this again writes the same bytes (the script checks that nothing it writes
depends on randomness: every multipart gets an explicit boundary).

    python3 testdata/mime/make_fixtures.py

Writes:
  nested.eml     multipart/mixed: multipart/alternative (text/plain utf-8 quoted-printable,
                 text/html utf-8 8bit), application/octet-stream (base64), message/rfc822
                 whose message is multipart/mixed with two parts. CRLF line endings.
  nested-lf.eml  the same message with LF line endings (as mail stored on Unix has).
  digest.eml     multipart/digest with two parts that have no Content-Type (so they are
                 message/rfc822 by RFC 2046 section 5.1.5's default). CRLF line endings.

The values put in (texts, attachment bytes) are the constants below; the Rust tests
(secmail-core/tests/mime_parse.rs) repeat them and check that parsing gives them back.
"""

import os
import sys
from email.message import EmailMessage
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.policy import SMTP

HERE = os.path.dirname(os.path.abspath(__file__))

# --- nested.eml -------------------------------------------------------------------------
OUTER_BOUNDARY = "outer-mixed-5f1c"
ALT_BOUNDARY = "alt-9d2e"
INNER_BOUNDARY = "inner-mixed-3b7a"

PLAIN_TEXT = (
    "Gr\u00fc\u00dfe aus K\u00f6ln! \u2014 caf\u00e9, na\u00efve, \u65e5\u672c\u8a9e, \U0001F600\n"
    "Second line with trailing spaces   \n"
    "From the desk of Ann.\n"
)
HTML_TEXT = (
    "<html><body><p>Gr\u00fc\u00dfe aus K\u00f6ln! \u2014 caf\u00e9</p></body></html>\n"
)
# Every byte value, NUL and CR/LF included, then a tail that is not a multiple of 3 long.
BINARY = bytes(range(256)) + b"\r\n\x00\xff--outer-mixed\r\n" + bytes(range(255, -1, -7))
BINARY_NAME = "blob.bin"
INNER_TEXT = "Inner message, first part.\nIt has two lines.\n"
INNER_CSV = "name,value\nalpha,1\nbeta,2\n"


def nested():
    inner = EmailMessage(policy=SMTP)
    inner["From"] = "Bob Inner <bob@example.net>"
    inner["To"] = "Ann Example <ann@example.org>"
    inner["Subject"] = "The forwarded one"
    inner["Date"] = "Tue, 02 Jan 2024 09:30:00 +0000"
    inner["Message-ID"] = "<inner-0001@example.net>"
    inner.set_content(INNER_TEXT, subtype="plain", charset="us-ascii", cte="7bit")
    inner.add_attachment(
        INNER_CSV.encode("ascii"),
        maintype="text",
        subtype="csv",
        filename="data.csv",
        cte="7bit",
    )
    inner.set_boundary(INNER_BOUNDARY)

    msg = EmailMessage(policy=SMTP)
    msg["From"] = "Ann Example <ann@example.org>"
    msg["To"] = "Carol <carol@example.com>"
    msg["Subject"] = "Nested fixture"
    msg["Date"] = "Wed, 03 Jan 2024 10:00:00 +0100"
    msg["Message-ID"] = "<nested-0001@example.org>"
    msg.set_content(PLAIN_TEXT, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(HTML_TEXT, subtype="html", charset="utf-8", cte="8bit")
    msg.set_boundary(ALT_BOUNDARY)
    msg.add_attachment(
        BINARY, maintype="application", subtype="octet-stream", filename=BINARY_NAME
    )
    msg.add_attachment(inner)
    msg.set_boundary(OUTER_BOUNDARY)
    # add_attachment made a new multipart/alternative child out of the first body: give
    # it its boundary again (make_mixed moves the Content-Type, boundary included).
    alt = msg.get_payload()[0]
    assert alt.get_content_type() == "multipart/alternative", alt.get_content_type()
    assert alt.get_boundary() == ALT_BOUNDARY
    return msg


# --- digest.eml -------------------------------------------------------------------------
DIGEST_BOUNDARY = "digest-7c41"
DIGEST_TEXTS = [
    "First message of the digest.\n",
    "Second message of the digest.\nWith a second line.\n",
]


def digest():
    parts = []
    for i, text in enumerate(DIGEST_TEXTS, start=1):
        m = EmailMessage(policy=SMTP)
        m["From"] = f"Sender {i} <s{i}@example.org>"
        m["Subject"] = f"Digest item {i}"
        m["Date"] = f"Thu, 0{i} Feb 2024 12:00:00 +0000"
        m["Message-ID"] = f"<digest-item-{i}@example.org>"
        m.set_content(text, subtype="plain", charset="us-ascii", cte="7bit")
        p = MIMEMessage(m, policy=SMTP)
        # A default-typed part: no Content-Type, no MIME-Version; in a multipart/digest it is
        # message/rfc822 (RFC 2046 section 5.1.5).
        del p["Content-Type"]
        del p["MIME-Version"]
        p.set_default_type("message/rfc822")
        parts.append(p)
    d = MIMEMultipart("digest", boundary=DIGEST_BOUNDARY, _subparts=parts, policy=SMTP)
    d["From"] = "Digest Robot <digest@example.org>"
    d["To"] = "list@example.org"
    d["Subject"] = "Digest fixture"
    d["Date"] = "Fri, 01 Mar 2024 08:00:00 +0000"
    d["Message-ID"] = "<digest-0001@example.org>"
    return d


def write(name, data):
    path = os.path.join(HERE, name)
    with open(path, "wb") as f:
        f.write(data)
    print(f"wrote {path} ({len(data)} bytes)")


def main():
    msg = nested()
    crlf = msg.as_bytes(policy=SMTP)
    lf = msg.as_bytes(policy=SMTP.clone(linesep="\n"))
    assert b"\r\n" in crlf and b"\n" not in crlf.replace(b"\r\n", b"")
    assert b"\r" not in lf
    assert lf == crlf.replace(b"\r\n", b"\n"), "the LF variant must differ only in line endings"
    write("nested.eml", crlf)
    write("nested-lf.eml", lf)

    d = digest().as_bytes(policy=SMTP)
    assert b"\n" not in d.replace(b"\r\n", b"")
    write("digest.eml", d)


if __name__ == "__main__":
    sys.exit(main())
