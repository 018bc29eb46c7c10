#!/usr/bin/env python3
"""Proves that scripts/check_mime.py can fail, and fails for the right reason.

    python3 scripts/check_mime_selftest.py

Each message in scripts/check_mime_tests/ is hand-made to break exactly one rule (good.eml
breaks none). A checker that passed everything, or flagged a file for some unrelated reason,
would fail this test. Standard library only.
"""

import contextlib
import io
import json
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "check_mime_tests")
sys.path.insert(0, HERE)

import check_mime  # noqa: E402  (found through the path set just above)

# File -> (the code it must be flagged with, other codes it may also trigger). The second set
# is for rules the broken input necessarily breaks twice, e.g. Python's parser notices a
# missing close delimiter as well.
EXPECTED = {
    "bare_lf.eml": ("bare-lf", set()),
    "long_line.eml": ("long-line", set()),
    "nul.eml": ("nul", set()),
    "bad_base64.eml": ("base64", set()),
    "bad_quoted_printable.eml": ("quoted-printable", set()),
    "missing_close_delimiter.eml": ("mime-structure", {"stdlib-defect"}),
    "boundary_in_content.eml": ("boundary-in-content", set()),
    "unlabelled_part.eml": ("mime-structure", set()),
    "bad_encoded_word.eml": ("encoded-word", set()),
    "eightbit_in_7bit.eml": ("8bit-in-7bit", set()),
    "raw_utf8_header.eml": ("8bit-header", set()),
    "duplicate_subject.eml": ("duplicate-header", set()),
    "missing_date.eml": ("missing-header", set()),
    "bad_message_id.eml": ("bad-message-id", {"stdlib-defect"}),
    "bcc_header.eml": ("bcc-header", set()),
}


def read(name):
    with open(os.path.join(CORPUS, name), "rb") as f:
        return f.read()


def codes(reasons):
    return {r.split(":", 1)[0] for r in reasons}


def run_main(args):
    """check_mime.main(ARGS) -> (exit status, printed lines)."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
        status = check_mime.main(args)
    return status, buf.getvalue().splitlines()


class BadMessages(unittest.TestCase):
    def test_every_file_has_an_expectation(self):
        on_disk = {n for n in os.listdir(CORPUS) if n.endswith(".eml")}
        self.assertEqual(on_disk, set(EXPECTED) | {"good.eml"})

    def test_each_bad_message_fails_for_its_reason(self):
        for name, (must, may) in EXPECTED.items():
            with self.subTest(name):
                found = codes(check_mime.check_message(read(name)))
                self.assertIn(must, found)
                self.assertLessEqual(found, {must} | may, "flagged for another reason too")

    def test_the_good_message_passes(self):
        self.assertEqual(check_mime.check_message(read("good.eml")), [])

    def test_utf8_headers_pass_when_declared(self):
        raw = read("raw_utf8_header.eml")
        self.assertEqual(check_mime.check_message(raw, utf8=True), [])

    def test_a_report_marking_smtputf8_allows_utf8_headers(self):
        path = os.path.join(CORPUS, "raw_utf8_header.eml")
        with tempfile.TemporaryDirectory() as tmp:
            report = os.path.join(tmp, "report.jsonl")
            with open(report, "w", encoding="utf-8") as f:
                f.write(json.dumps({"index": 1, "status": "ok", "output": path,
                                    "smtputf8": True}) + "\n")
            self.assertEqual(run_main(["--report", report, path]), (0, ["1 passed, 0 failed"]))
            self.assertEqual(run_main([path])[0], 1)

    def test_utf8_headers_must_still_be_utf8(self):
        raw = read("raw_utf8_header.eml").replace("ó".encode("utf-8"), b"\xf3")
        self.assertIn("8bit-header", codes(check_mime.check_message(raw, utf8=True)))


class VariationsOfTheGoodMessage(unittest.TestCase):
    """One-rule edits of good.eml, for rules whose failures are easier to see as a diff."""

    CASES = [
        # (what changes, old bytes, new bytes, the code expected)
        ("QP text that is not UTF-8", b"Jos=C3=A9,", b"Jos=E9,", "charset"),
        ("lower-case QP hex", b"Jos=C3=A9,", b"Jos=c3=a9,", "quoted-printable"),
        ("a multipart in base64", b'boundary="inner.b2"\r\n',
         b'boundary="inner.b2"\r\nContent-Transfer-Encoding: base64\r\n', "bad-cte"),
        ("an unknown transfer encoding", b"Content-Transfer-Encoding: 8bit",
         b"Content-Transfer-Encoding: 9bit", "bad-cte"),
        ("an encoded-word over 75 characters", b"de_tu_pedido_#1000?=",
         b"de_tu_pedido_#1000_" + b"x" * 40 + b"?=", "encoded-word"),
        ("an encoded-word in an unknown charset", b"=?utf-8?B?Sm9z", b"=?x-none?B?Sm9z",
         "encoded-word"),
        ("a boundary over 70 characters", b"outer.b1", b"o" * 71, "mime-structure"),
        ("MIME-Version 1.1", b"MIME-Version: 1.0", b"MIME-Version: 1.1", "bad-mime-version"),
        ("a base64 line over 76 characters", b"JVBERi0xLjQKJcOkw7zDtsOfCjEgMCBvYmoKPDwvVHlwZS9DYXRhbG9nPj4KZW5kb2JqCg==",
         b"JVBERi0xLjQKJcOkw7zDtsOfCjEgMCBvYmoKPDwvVHlwZS9DYXRhbG9nPj4KZW5kb2JqCgJVBERi0xLjQK",
         "base64"),
    ]

    def test_each_edit_is_caught(self):
        good = read("good.eml")
        for what, old, new, code in self.CASES:
            with self.subTest(what):
                self.assertIn(old, good)
                found = codes(check_mime.check_message(good.replace(old, new)))
                self.assertIn(code, found)


class CommandLine(unittest.TestCase):
    def test_summary_and_exit_status(self):
        status, lines = run_main([CORPUS])
        self.assertEqual(status, 1)
        self.assertEqual(lines[-1], "1 passed, %d failed" % len(EXPECTED))
        failing = [l for l in lines if l.startswith("FAIL ")]
        self.assertEqual(len(failing), len(EXPECTED), "one line per failing file")

    def test_a_clean_run_exits_zero(self):
        good = os.path.join(CORPUS, "good.eml")
        self.assertEqual(run_main([good]), (0, ["1 passed, 0 failed"]))

    def test_no_message_found_is_an_error(self):
        with tempfile.TemporaryDirectory() as tmp:
            self.assertEqual(run_main([tmp]), (2, ["0 passed, 0 failed"]))


if __name__ == "__main__":
    unittest.main()
