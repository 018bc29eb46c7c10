#!/usr/bin/env python3
"""Independent checker of the messages mailspec writes.

    python3 scripts/check_mime.py [--allow-utf8-headers] [--report FILE]... [-v] PATH...

Every PATH is an .eml file or a directory searched (recursively) for *.eml. Each message is
checked on its own, from the raw bytes, by code that shares nothing with the Rust emitter:

  wire       CRLF line ends only (no bare CR or LF), no line over 998 octets, no NUL octet
  headers    well-formed field lines with printable-ASCII names; 7-bit octets only, unless
             the message is declared SMTPUTF8 (then they must be UTF-8); no repeated
             single-instance field (RFC 5322 section 3.6, and the MIME Content-* fields);
             Date (parsable), From, Message-ID (<left@right>) and MIME-Version: 1.0 present
  words      every RFC 2047 encoded-word at most 75 characters, with a known charset, B or Q
             encoding, valid B or Q text, and octets that decode in its charset
  MIME       a multipart has a boundary of 1 to 70 legal characters, every part between
             delimiter lines, a close delimiter, no line inside a part that starts with the
             boundary; Content-Transfer-Encoding is 7bit, 8bit, binary, quoted-printable or
             base64 (only the first three on a multipart or message/rfc822); a 7bit body is
             ASCII; base64 lines are at most 76 characters and decode strictly; quoted-printable
             lines are at most 76 characters, with "=" only before two hex digits or at the end
             of a line, and no trailing white space; text parts decode in their charset
  stdlib     Python's email parser (policy.default) reports no defect on any part or header

SMTPUTF8: mailspec writes raw UTF-8 headers only for a spec with `smtputf8: true`, and then says
so in its `--report` file (`"smtputf8": true` on that record's line). Pass that report with
--report (output paths in it are relative to the directory mailspec ran in, so run this from
the same directory), or pass --allow-utf8-headers to accept UTF-8 headers in every file.

Output: one line per failing file, `FAIL path: reason; reason`, then `N passed, M failed`.
Exit status: 0 when every file passed, 1 when one failed, 2 on a usage error or no file found.
Python 3.11+, standard library only.
"""

import argparse
import base64
import binascii
import codecs
import email
import email.policy
import email.utils
import json
import os
import re
import sys

LINE_LIMIT = 998  # RFC 5322 section 2.1.1, octets before the CRLF
ENCODED_LINE_LIMIT = 76  # RFC 2045 sections 6.7 and 6.8
WORD_LIMIT = 75  # RFC 2047 section 2
BOUNDARY_LIMIT = 70  # RFC 2046 section 5.1.1

# RFC 5322 section 3.6 allows each of these at most once in a message header.
ONCE_PER_MESSAGE = {
    "date", "from", "sender", "reply-to", "to", "cc", "bcc", "message-id",
    "in-reply-to", "references", "subject",
}
# RFC 2045/2183: one of each per entity; two Content-Types leave the reader to guess.
ONCE_PER_ENTITY = {
    "mime-version", "content-type", "content-transfer-encoding", "content-id",
    "content-description", "content-disposition",
}
ENCODINGS = {"7bit", "8bit", "binary", "quoted-printable", "base64"}
IDENTITY_ENCODINGS = {"7bit", "8bit", "binary"}

FIELD_NAME = re.compile(rb"[\x21-\x39\x3b-\x7e]+")
BOUNDARY_CHARS = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]*[0-9A-Za-z'()+_,\-./:=?]")
ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
DOT_ATOM = ATEXT + "+(?:\\." + ATEXT + "+)*"
MESSAGE_ID = re.compile(r"<" + DOT_ATOM + r"@(?:" + DOT_ATOM + r"|\[[\x21-\x5a\x5e-\x7e]*\])>")
# Anything shaped like an encoded-word, even a broken one, so that broken ones get reported.
WORD_SHAPE = re.compile(r"=\?([^?\s]*)\?([^?\s]*)\?(\S*?)\?=")
B_TEXT = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
# Q text (RFC 2047 section 4.2): printable ASCII except "?", "=" only in =XX (upper-case hex,
# as RFC 2045 section 6.7 requires), "_" standing for a space.
Q_TEXT = re.compile(r"(?:[\x21-\x3c\x3e\x40-\x7e]|=[0-9A-F]{2})*")
# In a display name (a phrase, RFC 2047 section 5 (3)) it is narrower still: letters, digits,
# "!*+-/" and "_", everything else escaped.
Q_TEXT_PHRASE = re.compile(r"(?:[A-Za-z0-9!*+\-/_]|=[0-9A-F]{2})*")
ADDRESS_FIELDS = {
    "from", "sender", "reply-to", "to", "cc", "bcc",
    "resent-from", "resent-sender", "resent-to", "resent-cc", "resent-bcc",
}
# Quoted-printable (RFC 2045 section 6.7): printable ASCII, space and tab travel as they are,
# "=" starts =XX with upper-case hex or, last on a line, a soft line break.
QP_RAW = re.compile(rb"[^\x20-\x7e\t]")
QP_LOOSE_EQUALS = re.compile(rb"=(?![0-9A-F]{2}|$)")
QP_HEX = re.compile(rb"=([0-9A-F]{2})")
B64_LINE = re.compile(rb"[A-Za-z0-9+/=]*")


class Findings:
    """Reasons one file fails, each `code: detail`; the code is stable, the detail helps."""

    def __init__(self):
        self.reasons = []

    def add(self, code, detail):
        text = "%s: %s" % (code, detail)
        if text not in self.reasons:
            self.reasons.append(text)


def line_of(raw, offset):
    return raw.count(b"\n", 0, offset) + 1


# ------------------------------------------------------------------ wire

def check_wire(raw, out):
    lf = re.search(rb"(?<!\r)\n", raw)
    if lf:
        out.add("bare-lf", "LF without CR at line %d" % line_of(raw, lf.start()))
    cr = re.search(rb"\r(?!\n)", raw)
    if cr:
        out.add("bare-cr", "CR without LF at line %d" % line_of(raw, cr.start()))
    nul = raw.find(b"\0")
    if nul >= 0:
        out.add("nul", "NUL octet at line %d" % line_of(raw, nul))
    for number, line in enumerate(raw.split(b"\r\n"), 1):
        # A bare LF was reported above; measure what a reader splitting on LF would see too.
        for piece in line.split(b"\n"):
            if len(piece) > LINE_LIMIT:
                out.add("long-line", "line %d has %d octets (limit %d)"
                        % (number, len(piece), LINE_LIMIT))
                return


# --------------------------------------------------------------- headers

class Entity:
    """One message or body part: its header fields (name, unfolded value) and its body."""

    def __init__(self, fields, body, label):
        self.fields = fields
        self.body = body
        self.label = label

    def get(self, name):
        for field, value in self.fields:
            if field.lower() == name:
                return value
        return None


def split_entity(raw, label, utf8, out):
    """Cuts RAW at the first empty line and parses the header block by hand."""
    if raw.startswith(b"\r\n"):
        block, body = b"", raw[2:]
    else:
        cut = raw.find(b"\r\n\r\n")
        if cut < 0:
            block, body = raw, b""
        else:
            block, body = raw[:cut], raw[cut + 4:]
    fields = []
    for line in block.split(b"\r\n") if block else []:
        if line[:1] in (b" ", b"\t"):
            if not fields:
                out.add("header-syntax", "%s begins with a continuation line" % label)
                continue
            name, value = fields[-1]
            fields[-1] = (name, value + line)
            continue
        colon = line.find(b":")
        name = line[:colon] if colon > 0 else b""
        if not FIELD_NAME.fullmatch(name):
            out.add("header-syntax", "%s has a line that is not a header field: %r"
                    % (label, line[:60]))
            continue
        fields.append((name, line[colon + 1:]))
    decoded = []
    for name, value in fields:
        text_name = name.decode("ascii")
        if not value.isascii():
            if not utf8:
                out.add("8bit-header", "%s header %s has non-ASCII octets and the message is "
                        "not declared SMTPUTF8" % (label, text_name))
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                out.add("8bit-header", "%s header %s is not UTF-8" % (label, text_name))
        decoded.append((text_name, value.decode("utf-8", "replace").strip(" \t")))
    return Entity(decoded, body, label)


def check_counts(entity, top, out):
    seen = {}
    for name, _ in entity.fields:
        seen[name.lower()] = seen.get(name.lower(), 0) + 1
    limited = ONCE_PER_ENTITY | (ONCE_PER_MESSAGE if top else set())
    for name in sorted(limited):
        if seen.get(name, 0) > 1:
            out.add("duplicate-header", "%s has %d %s fields" % (entity.label, seen[name], name))


def strip_comments(value):
    return re.sub(r"\([^()]*\)", "", value).strip()


def check_top_fields(entity, out):
    date = entity.get("date")
    if date is None:
        out.add("missing-header", "no Date")
    else:
        try:
            email.utils.parsedate_to_datetime(date)
        except (TypeError, ValueError, IndexError):
            out.add("bad-date", "Date %r does not parse" % date[:60])
    if entity.get("from") is None:
        out.add("missing-header", "no From")
    message_id = entity.get("message-id")
    if message_id is None:
        out.add("missing-header", "no Message-ID")
    elif not MESSAGE_ID.fullmatch(strip_comments(message_id)):
        out.add("bad-message-id", "Message-ID %r is not <dot-atom@domain>" % message_id[:80])
    if entity.get("bcc") is not None:
        # Blind copies go in the envelope only; a Bcc field shows them to every recipient.
        out.add("bcc-header", "the message carries a Bcc field")
    version = entity.get("mime-version")
    if version is None:
        out.add("missing-header", "no MIME-Version")
    elif re.sub(r"\s", "", strip_comments(version)) != "1.0":
        out.add("bad-mime-version", "MIME-Version is %r, not 1.0" % version)


def check_word(word, charset, encoding, text, where, phrase, out):
    if len(word) > WORD_LIMIT:
        out.add("encoded-word", "%s: %d characters (limit %d): %s"
                % (where, len(word), WORD_LIMIT, word[:40]))
    # RFC 2231 section 5 lets a language follow the charset: =?utf-8*es?Q?...?=
    charset = charset.split("*", 1)[0]
    try:
        codecs.lookup(charset)
    except LookupError:
        out.add("encoded-word", "%s: unknown charset in %s" % (where, word[:40]))
        return
    kind = encoding.upper()
    if kind == "B":
        if not B_TEXT.fullmatch(text):
            out.add("encoded-word", "%s: invalid base64 text in %s" % (where, word[:40]))
            return
        octets = base64.b64decode(text, validate=True)
    elif kind == "Q":
        if not (Q_TEXT_PHRASE if phrase else Q_TEXT).fullmatch(text):
            out.add("encoded-word", "%s: invalid Q text in %s" % (where, word[:40]))
            return
        octets = re.sub(rb"=([0-9A-F]{2})", lambda m: bytes([int(m.group(1), 16)]),
                        text.replace("_", " ").encode("ascii"))
    else:
        out.add("encoded-word", "%s: encoding %r is neither B nor Q in %s"
                % (where, encoding, word[:40]))
        return
    try:
        octets.decode(charset)
    except UnicodeDecodeError:
        out.add("encoded-word", "%s: %s does not decode as %s (a character split between "
                "two words?)" % (where, word[:40], charset))


def check_encoded_words(entity, out):
    for name, value in entity.fields:
        # Unfolding left the white space of each fold, and an encoded-word holds none.
        for m in WORD_SHAPE.finditer(value):
            check_word(m.group(0), m.group(1), m.group(2), m.group(3),
                       "%s header %s" % (entity.label, name),
                       name.lower() in ADDRESS_FIELDS, out)


# -------------------------------------------------------------- MIME tree

def parse_params(value):
    """(type/subtype lower-cased, params dict) using the stdlib's header parser."""
    header = email.policy.default.header_factory("content-type", value)
    return header.content_type, dict(header.params)


def transfer_encoding(entity, out):
    value = entity.get("content-transfer-encoding")
    if value is None:
        return "7bit"
    cte = strip_comments(value).lower()
    if cte not in ENCODINGS:
        out.add("bad-cte", "%s has Content-Transfer-Encoding %r" % (entity.label, value))
    return cte


def walk(raw, label, top, utf8, out, depth=0, forwarded=False):
    """Checks one entity and recurses into multiparts and message/rfc822 parts.

    FORWARDED is true inside an attached message, which mailspec copies and did not write.
    """
    entity = split_entity(raw, label, utf8, out)
    check_counts(entity, top, out)
    check_encoded_words(entity, out)
    if top:
        check_top_fields(entity, out)
    if not top and not forwarded and entity.get("content-type") is None:
        # mailspec labels every part it writes; a part with no Content-Type is what a boundary
        # line copied from data into content leaves behind.
        out.add("mime-structure", "%s has no Content-Type" % label)
    if depth > 50:
        out.add("mime-structure", "%s is nested more than 50 levels deep" % label)
        return
    content_type = entity.get("content-type")
    ctype, params = ("text/plain", {"charset": "us-ascii"})
    if content_type is not None:
        try:
            ctype, params = parse_params(content_type)
        except Exception as e:  # the stdlib parser on hostile input: a finding, not a crash
            out.add("mime-structure", "%s Content-Type does not parse: %s" % (label, e))
            return
    cte = transfer_encoding(entity, out)
    if ctype.startswith("multipart/"):
        if cte not in IDENTITY_ENCODINGS:
            out.add("bad-cte", "%s is %s with encoding %s" % (label, ctype, cte))
        check_multipart(entity, params.get("boundary"), utf8, out, depth, forwarded)
    elif ctype == "message/rfc822":
        if cte not in IDENTITY_ENCODINGS:
            out.add("bad-cte", "%s is message/rfc822 with encoding %s" % (label, cte))
        check_body(entity, ctype, params, cte, out)
        walk(entity.body, label + " (attached message)", False, utf8, out, depth + 1, True)
    else:
        check_body(entity, ctype, params, cte, out)


def check_multipart(entity, boundary, utf8, out, depth, forwarded):
    label = entity.label
    if not boundary:
        out.add("mime-structure", "%s is multipart without a boundary" % label)
        return
    if len(boundary) > BOUNDARY_LIMIT or not BOUNDARY_CHARS.fullmatch(boundary):
        out.add("mime-structure", "%s has an illegal boundary %r" % (label, boundary[:80]))
    dash = b"--" + boundary.encode("utf-8", "replace")
    # The CRLF before a delimiter line belongs to the delimiter (RFC 2046 section 5.1.1), so
    # the body is cut at CRLF--boundary; a delimiter may also open the body.
    lines = entity.body.split(b"\r\n")
    parts, current, state = [], None, "preamble"
    for line in lines:
        if line.startswith(dash):
            rest = line[len(dash):]
            if state != "epilogue" and rest.rstrip(b" \t") == b"":
                if current is not None:
                    parts.append(current)
                current, state = [], "part"
                continue
            if state != "epilogue" and rest.rstrip(b" \t") == b"--":
                if current is not None:
                    parts.append(current)
                current, state = None, "epilogue"
                continue
            # Some readers match the boundary as a prefix: this line would cut the part.
            out.add("boundary-in-content", "%s: a line in the %s starts with its boundary: %r"
                    % (label, "epilogue" if state == "epilogue" else "content", line[:80]))
        if current is not None:
            current.append(line)
    if state != "epilogue":
        out.add("mime-structure", "%s has no close delimiter --%s--" % (label, boundary))
        if current is not None:
            parts.append(current)
    if not parts:
        out.add("mime-structure", "%s has no body part" % label)
    for n, part_lines in enumerate(parts, 1):
        walk(b"\r\n".join(part_lines), "%s.%d" % (label, n), False, utf8, out, depth + 1,
             forwarded)


def check_body(entity, ctype, params, cte, out):
    label, body = entity.label, entity.body
    if cte == "7bit" and not body.isascii():
        out.add("8bit-in-7bit", "%s is declared 7bit and has octets above 127" % label)
        return
    data = body
    if cte == "base64":
        data = decode_base64(body, label, out)
    elif cte == "quoted-printable":
        data = decode_qp(body, label, out)
    if data is None or not ctype.startswith("text/"):
        return
    charset = params.get("charset", "us-ascii")
    try:
        data.decode(charset)
    except LookupError:
        out.add("charset", "%s declares an unknown charset %r" % (label, charset))
    except UnicodeDecodeError as e:
        out.add("charset", "%s does not decode as %s (octet %d)" % (label, charset, e.start))


def decode_base64(body, label, out):
    lines = body.split(b"\r\n")
    for n, line in enumerate(lines, 1):
        if len(line) > ENCODED_LINE_LIMIT:
            out.add("base64", "%s: line %d has %d characters (limit %d)"
                    % (label, n, len(line), ENCODED_LINE_LIMIT))
            break
        if not B64_LINE.fullmatch(line):
            out.add("base64", "%s: line %d has characters outside base64: %r"
                    % (label, n, line[:40]))
            return None
    joined = b"".join(lines)
    try:
        return base64.b64decode(joined, validate=True)
    except (binascii.Error, ValueError) as e:
        out.add("base64", "%s does not decode: %s" % (label, e))
        return None


def decode_qp(body, label, out):
    decoded = []
    lines = body.split(b"\r\n")
    for n, line in enumerate(lines, 1):
        where = "%s: line %d" % (label, n)
        if len(line) > ENCODED_LINE_LIMIT:
            out.add("quoted-printable", "%s has %d characters (limit %d)"
                    % (where, len(line), ENCODED_LINE_LIMIT))
        if line.endswith((b" ", b"\t")):
            out.add("quoted-printable", "%s ends in white space" % where)
        raw_octet = QP_RAW.search(line)
        if raw_octet:
            out.add("quoted-printable", "%s has a raw octet 0x%02X"
                    % (where, raw_octet.group(0)[0]))
            return None
        loose = QP_LOOSE_EQUALS.search(line)
        if loose:
            out.add("quoted-printable", "%s has \"=\" not followed by two upper-case hex "
                    "digits or a line end: %r" % (where, line[loose.start():loose.start() + 3]))
            return None
        soft = line.endswith(b"=")
        text = line[:-1] if soft else line
        decoded.append(QP_HEX.sub(lambda m: bytes([int(m.group(1), 16)]), text))
        if n < len(lines) and not soft:
            decoded.append(b"\r\n")
    return b"".join(decoded)


# ---------------------------------------------------------- the stdlib's view

def check_stdlib(raw, utf8, out):
    """Runs Python's own parser and reports every defect it records, part by part."""
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception as e:  # a hostile message must become a finding, not a crash
        out.add("stdlib-defect", "the parser raised %s: %s" % (type(e).__name__, e))
        return
    for n, part in enumerate(message.walk()):
        where = "message" if n == 0 else "part %d (walk order)" % n
        for defect in part.defects:
            out.add("stdlib-defect", "%s: %s" % (where, type(defect).__name__))
        for name, raw_value in part.raw_items():
            try:
                if utf8 and isinstance(raw_value, str):
                    # BytesParser keeps non-ASCII octets as surrogates; an SMTPUTF8 header is
                    # UTF-8 text, so hand the parser the text itself.
                    text = raw_value.encode("ascii", "surrogateescape").decode("utf-8")
                    text = re.sub(r"\r\n(?=[ \t])", "", text).rstrip("\r\n")
                    header = email.policy.default.header_factory(name, text)
                else:
                    header = email.policy.default.header_fetch_parse(name, raw_value)
            except Exception as e:  # same reason as above
                out.add("stdlib-defect", "%s header %s: the parser raised %s: %s"
                        % (where, name, type(e).__name__, e))
                continue
            for defect in getattr(header, "defects", ()):
                # RFC 6532 permits a UTF-8 local part in an SMTPUTF8 message.
                if utf8 and type(defect).__name__ == "NonASCIILocalPartDefect":
                    continue
                out.add("stdlib-defect", "%s header %s: %s: %s"
                        % (where, name, type(defect).__name__, defect))


# --------------------------------------------------------------------- main

def check_message(raw, utf8=False):
    """Returns the list of reasons RAW fails (empty when it passes)."""
    out = Findings()
    check_wire(raw, out)
    walk(raw, "message", True, utf8, out)
    # Python does not decode address headers as RFC 2047 section 6.2 says (CPython gh-128110:
    # a space appears between adjacent encoded-words), so decoded addresses are not compared
    # here; only the defects the parser records count.
    check_stdlib(raw, utf8, out)
    return out.reasons


def utf8_outputs(report_paths):
    """The files mailspec's `--report` JSON lines mark as needing SMTPUTF8."""
    allowed = set()
    for path in report_paths:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError as e:
                    raise SystemExit("error: %s:%d is not JSON: %s" % (path, number, e))
                if record.get("smtputf8") and record.get("output"):
                    allowed.add(os.path.realpath(record["output"]))
    return allowed


def find_messages(paths):
    found = []
    for path in paths:
        if os.path.isdir(path):
            for folder, _, names in os.walk(path):
                found += [os.path.join(folder, n) for n in names if n.endswith(".eml")]
        else:
            found.append(path)
    return sorted(set(found))


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Check rendered .eml files against the wire, header and MIME rules.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help=".eml files or directories")
    parser.add_argument("--allow-utf8-headers", action="store_true",
                        help="accept UTF-8 header octets in every file (RFC 6532)")
    parser.add_argument("--report", action="append", default=[], metavar="FILE",
                        help="a mailspec --report file: accept UTF-8 headers in the outputs "
                        "it marks smtputf8")
    parser.add_argument("-v", "--verbose", action="store_true", help="also list passing files")
    args = parser.parse_args(argv)

    utf8_files = utf8_outputs(args.report)
    files = find_messages(args.paths)
    passed = failed = 0
    for path in files:
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError as e:
            reasons = ["io: %s" % e]
        else:
            utf8 = args.allow_utf8_headers or os.path.realpath(path) in utf8_files
            reasons = check_message(raw, utf8)
        if reasons:
            failed += 1
            print("FAIL %s: %s" % (path, "; ".join(reasons)))
        else:
            passed += 1
            if args.verbose:
                print("ok   %s" % path)
    if not files:
        print("error: no .eml file under %s" % " ".join(args.paths), file=sys.stderr)
    print("%d passed, %d failed" % (passed, failed))
    if not files:
        return 2
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
