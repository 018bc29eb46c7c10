"""A test SMTP server for tests/send.rs, run with Debian's /usr/bin/python3 (python3-aiosmtpd).

usage: server.py CONFIG.json

CONFIG: {"port": P, "dir": D, "cert": PEM|null, "key": PEM|null, "user": U|null,
         "password": W|null, "implicit": bool, "smtputf8": bool, "reject_rcpt": [addr...],
         "defer_data": N (the first N messages get 451 at the end of DATA),
         "auth_mechanisms": [PLAIN|LOGIN|XOAUTH2...] (offer only these; default all three),
         "no_8bitmime": bool (leave 8BITMIME out of the EHLO reply)}
Each accepted message is saved as D/NNNNNN.eml (the exact bytes after un-stuffing) and
D/NNNNNN.json (envelope, options, whether the session used TLS and AUTH), and its Message-ID
is appended to D/ids.txt. Prints READY when listening.
"""
import base64
import json
import os
import re
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

cfg = json.load(open(sys.argv[1]))
out = cfg["dir"]
lock = threading.Lock()
state = {"seq": 0, "deferred": 0}
reject = set(a.lower() for a in cfg.get("reject_rcpt", []))


class Handler:
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        # With this hook aiosmtpd leaves the EHLO name to the handler.
        session.host_name = hostname
        if cfg.get("no_8bitmime"):
            responses = [r for r in responses if r != "250-8BITMIME"]
        return responses

    async def auth_XOAUTH2(self, server, args):
        """XOAUTH2 (Google's and Microsoft's SASL profile): one base64 line holding
        user=USER ^A auth=Bearer TOKEN ^A ^A."""
        if len(args) < 2:
            return AuthResult(success=False)
        try:
            raw = base64.b64decode(args[1].encode(), validate=True)
        except Exception:
            return AuthResult(success=False)
        want = b"user=%s\x01auth=Bearer %s\x01\x01" % (
            cfg["user"].encode(), cfg["password"].encode())
        return AuthResult(success=raw == want, handled=False, auth_data="XOAUTH2")

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in reject:
            return "550 5.1.1 <%s>: no such user" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with lock:
            if state["deferred"] < cfg.get("defer_data", 0):
                state["deferred"] += 1
                return "451 4.3.0 try again later"
            state["seq"] += 1
            n = state["seq"]
        data = envelope.original_content
        base = os.path.join(out, "%06d" % n)
        with open(base + ".eml", "wb") as f:
            f.write(data)
        with open(base + ".json", "w") as f:
            json.dump({
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "mail_options": envelope.mail_options,
                "tls": session.ssl is not None,
                "authenticated": bool(session.authenticated),
                "auth_mechanism": session.auth_data if isinstance(session.auth_data, str) else None,
                "session": id(session),
                "helo": session.host_name,
                "peer": session.peer[0],
            }, f)
        m = re.search(rb"^Message-ID:\s*(<[^>\r\n]*>)", data, re.M | re.I)
        with lock:
            with open(os.path.join(out, "ids.txt"), "ab") as f:
                f.write((m.group(1) if m else b"<none>") + b"\n")
                f.flush()
        return "250 2.0.0 Ok: queued as Q%06d" % n


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (auth_data.login == cfg["user"].encode() and
          auth_data.password == cfg["password"].encode())
    # handled=False: aiosmtpd then replies 535 itself (with the default, it says nothing).
    return AuthResult(success=ok, handled=False, auth_data=mechanism)


kw = {"enable_SMTPUTF8": bool(cfg.get("smtputf8"))}
if cfg.get("cert"):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cfg["cert"], cfg["key"])
    if cfg.get("implicit"):
        # TLS from the first byte (smtps://, RFC 8314).
        kw.update(ssl_context=ctx)
    else:
        kw.update(tls_context=ctx, require_starttls=True)
if cfg.get("user"):
    offered = set(cfg.get("auth_mechanisms", ["PLAIN", "LOGIN", "XOAUTH2"]))
    kw.update(authenticator=authenticator, auth_required=True,
              auth_require_tls=bool(cfg.get("cert")),
              auth_exclude_mechanism=[m for m in ["PLAIN", "LOGIN", "XOAUTH2"]
                                      if m not in offered])
controller = Controller(Handler(), hostname="127.0.0.1", port=cfg["port"],
                        data_size_limit=0, **kw)
controller.start()
print("READY", flush=True)
try:
    threading.Event().wait()
finally:
    controller.stop()
