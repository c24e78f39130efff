"""Vitrine tried as an attacker would: probes against a real `vitrine demo`, over HTTP only.

Each probe tries to break one promise — lockouts at any concurrency, unknown emails that look
like known ones, address throttles that cannot be dodged, cross-site posts refused, tokens
refused the moment access ends, one organization unable to touch another, no anonymous
request writing anything, hostile bodies refused without a change or a 5xx, slow clients cut
off — and reports what it found. Exits non-zero when any probe finds something.

    python3 scripts/probes/attacks.py --binary target/debug/vitrine

Two demos run: one behind a "proxy" (127.0.0.1 is a trusted proxy, so each probe speaks from
addresses of its own through X-Forwarded-For, as clients behind a load balancer would), and one
with the default configuration, where that header must be ignored.
"""

import argparse
import re
import socket
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "pylib"))
from vitrine_demo import (  # noqa: E402
    SKIPPED_COLUMNS,
    SKIPPED_TABLES,
    Client,
    fingerprint,
    start_demo,
    stop_demo,
)

PASSWORD = "probe-demo-password-1"
BEHIND_PROXY = '[limits]\ntrusted_proxies = ["127.0.0.1"]\nheader_read_timeout_seconds = 2\n'
# Text that would tell an attacker about the inside.
LEAKS = ("sqlx", "sqlite", "panicked", "backtrace", "/src/", ".rs:", "datafusion", "arrow")


class Findings:
    def __init__(self):
        self.failed = []
        self.current = None

    def probe(self, name):
        self.current = name
        print(f"--- {name}", flush=True)

    def check(self, condition, what):
        """Records `what` as found when `condition` is false."""
        if not condition:
            self.failed.append(f"{self.current}: {what}")
            print(f"    FOUND {what}", flush=True)
        return condition

    def ok(self, what):
        print(f"    ok    {what}", flush=True)


class Demo:
    """A running demo and the ways in: addresses of its own for every client."""

    _next_address = 0

    def __init__(self, binary, config, log):
        self.data_dir = tempfile.mkdtemp(prefix="vitrine-probe-")
        self.process, self.base = start_demo(binary, self.data_dir, PASSWORD, log, config)
        self.database = str(Path(self.data_dir) / "vitrine.db")

    def client(self, address=None):
        """A client; behind the proxy, from an address no other client uses."""
        if address is None:
            Demo._next_address += 1
            n = Demo._next_address
            address = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256 or 1}"
        return Client(self.base, {"X-Forwarded-For": address})

    def signed_in(self, email, password=PASSWORD):
        client = self.client()
        answer = client.sign_in(email, password)
        assert answer.status == 200, f"{email} could not sign in: {answer.status} {answer.text}"
        return client

    def state(self, everything=False):
        if everything:
            return fingerprint(self.database)
        return fingerprint(self.database, SKIPPED_TABLES, SKIPPED_COLUMNS)

    def stop(self):
        stop_demo(self.process)


def parallel(count, work):
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(work, range(count)))


def by_name(answer, key, value):
    return next(item for item in answer.json() if item[key] == value)


# --- Sign-in ------------------------------------------------------------------------------

def masked(text):
    return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d", "<time>", text)


def lockout_at_any_concurrency(demo, admin, found):
    found.probe("64 parallel wrong passwords, each from its own address, for one account and for nobody")
    created = admin.call("POST", "/api/v1/users", {
        "email": "locked-probe@example.com", "name": "Lock Probe", "role": "viewer", "password": PASSWORD,
    })
    assert created.status == 201, created.text
    answers = {}
    for email in ("locked-probe@example.com", "nobody-at-all@example.com"):
        answers[email] = parallel(64, lambda _: demo.client().call(
            "POST", "/api/v1/auth/login", {"email": email, "password": "wrong-password-guess"}))
        checked = sum(a.status == 401 for a in answers[email])
        locked = sum(a.error_code() == "AccountLocked" for a in answers[email])
        found.check(checked <= 5, f"{email}: {checked} wrong passwords were checked (at most 5 may be)")
        found.check(checked + locked == 64, f"{email}: answers other than 401 and 423: "
                    f"{sorted({a.status for a in answers[email]})}")
        found.ok(f"{email}: {checked} checked, {locked} locked")
    right = demo.client().call("POST", "/api/v1/auth/login",
                               {"email": "locked-probe@example.com", "password": PASSWORD})
    found.check(right.status == 423, f"the right password passed the lock ({right.status})")
    nobody = demo.client().call("POST", "/api/v1/auth/login",
                                {"email": "nobody-at-all@example.com", "password": PASSWORD})
    # The two were locked a moment apart: the time each lock ends may differ, nothing else.
    same = (right.status, masked(right.text), right.header("Retry-After") is None) == (
        nobody.status, masked(nobody.text), nobody.header("Retry-After") is None)
    found.check(same, f"a locked account and a locked nobody answer differently: {right.text!r} / {nobody.text!r}")
    wrong = [demo.client().call("POST", "/api/v1/auth/login", {"email": e, "password": "x" * 12})
             for e in ("contributor@example.com", "nobody-else@example.com")]
    found.check(wrong[0].text == wrong[1].text and wrong[0].status == wrong[1].status,
                f"a wrong password and an unknown email answer differently: {wrong[0].text!r} / {wrong[1].text!r}")
    found.ok("locked accounts and unknown emails answer alike")


def throttle_per_address(demo, found):
    found.probe("a flood of sign-ins from one address")
    flood = demo.client()
    answers = [flood.call("POST", "/api/v1/auth/login",
                          {"email": f"guess{i}@example.com", "password": "guessing-password"})
               for i in range(40)]
    limited = sum(a.error_code() == "RateLimited" for a in answers)
    found.check(limited > 0, "40 sign-ins in a row from one address were never throttled")
    other = demo.client()
    found.check(other.sign_in("viewer@example.com", PASSWORD).status == 200,
                "the flood from one address kept another address from signing in")
    found.ok(f"{limited} of 40 answered 429; another address still signs in")


def forwarded_for_ignored(binary, log, found):
    found.probe("X-Forwarded-For from a client that is no proxy (default configuration)")
    demo = Demo(binary, "", log)
    try:
        answers = []
        for i in range(40):
            client = demo.client(address=f"198.51.100.{i + 1}")
            answers.append(client.call("POST", "/api/v1/auth/login",
                                       {"email": f"spoof{i}@example.com", "password": "guessing-password"}))
        limited = sum(a.error_code() == "RateLimited" for a in answers)
        found.check(limited > 0, "a new X-Forwarded-For on every request escaped the sign-in throttle")
        found.ok(f"{limited} of 40 answered 429 although each claimed another address")
    finally:
        demo.stop()


# --- Cross-site and cookies ----------------------------------------------------------------

def cross_site(demo, found):
    found.probe("cross-site posts, missing and foreign CSRF tokens, cookie flags, headers")
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        answer = demo.client().call("POST", "/api/v1/auth/login",
                                    {"email": "viewer@example.com", "password": PASSWORD}, headers=headers)
        found.check(answer.status == 403 and answer.error_code() == "CsrfRejected",
                    f"a cross-site sign-in ({headers}) answered {answer.status}")
        form = demo.client().call("POST", "/login", data=f"email=viewer%40example.com&password={PASSWORD}".encode(),
                                  content_type="application/x-www-form-urlencoded", headers=headers)
        found.check(form.status == 403, f"the sign-in form accepted a cross-site post ({headers}): {form.status}")
    viewer = demo.signed_in("viewer@example.com")
    other = demo.signed_in("contributor@example.com")
    for token in ("", "not-the-token", other.csrf):
        answer = viewer.call("POST", "/api/v1/me/sessions/end-others", headers={"X-CSRF-Token": token})
        found.check(answer.status == 403, f"an unsafe call with CSRF token {token!r} answered {answer.status}")
    found.check(viewer.call("GET", "/api/v1/me").status == 200, "the viewer's session ended")
    login = demo.client().call("POST", "/api/v1/auth/login", {"email": "viewer@example.com", "password": PASSWORD})
    cookie = login.header("Set-Cookie") or ""
    for flag in ("HttpOnly", "SameSite=", "Path=/"):
        found.check(flag.lower() in cookie.lower(), f"the session cookie lacks {flag}: {cookie}")
    page = demo.client().call("GET", "/")
    for header, expected in (("Content-Security-Policy", "default-src"), ("X-Frame-Options", "DENY"),
                             ("X-Content-Type-Options", "nosniff")):
        found.check(expected in (page.header(header) or ""), f"the portal lacks {header}: {expected}")
    metrics = demo.client().call("GET", "/metrics")
    found.check(metrics.status in (401, 403, 404), f"/metrics answers anyone: {metrics.status}")
    found.ok("cross-site posts and foreign CSRF tokens refused; cookie flags and headers set; /metrics private")


# --- Tokens ------------------------------------------------------------------------------------

def token_opens(demo, report, token):
    return demo.client().call("GET", f"/api/v1/embed/reports/{report}",
                              headers={"Authorization": f"Bearer {token}"})


def tokens_race_removal(demo, admin, found, rounds):
    found.probe(f"token requests racing the removal of access, {rounds} times")
    regional_id = by_name(admin.call("GET", "/api/v1/users"), "email", "regional@example.com")["id"]
    report = by_name(admin.call("GET", "/api/v1/reports"), "name", "Regional performance")["id"]
    access = f"/api/v1/reports/{report}/access/users/{regional_id}"
    regional = demo.signed_in("regional@example.com")
    opened_after = 0
    answered_after = 0
    for _ in range(rounds):
        assert admin.call("PUT", access).status in (200, 204)
        stop = threading.Event()
        issued = []

        def ask():
            while not stop.is_set():
                answer = regional.call("POST", f"/api/v1/reports/{report}/token")
                if answer.status == 200:
                    issued.append((time.monotonic(), answer.json()["token"]))

        workers = [threading.Thread(target=ask) for _ in range(4)]
        for worker in workers:
            worker.start()
        time.sleep(0.02)
        removal = admin.call("DELETE", access)
        removed_at = time.monotonic()
        time.sleep(0.02)
        stop.set()
        for worker in workers:
            worker.join()
        assert removal.status in (200, 204), removal.text
        for answered, token in issued:
            after = answered > removed_at
            answered_after += after
            if token_opens(demo, report, token).status == 200:
                opened_after += 1
    found.check(opened_after == 0, f"{opened_after} tokens still opened the report after the removal")
    assert admin.call("PUT", access).status in (200, 204)
    found.ok(f"no token opened the report once access was removed ({answered_after} were answered after it)")


def tokens_refused_at_once(demo, admin, found):
    found.probe("revocation, a new password, tampered tokens, tokens in URLs")
    viewer_id = by_name(admin.call("GET", "/api/v1/users"), "email", "viewer@example.com")["id"]
    report = by_name(admin.call("GET", "/api/v1/reports"), "name", "Sales overview")["id"]
    viewer = demo.signed_in("viewer@example.com")
    token = viewer.call("POST", f"/api/v1/reports/{report}/token").json()["token"]
    found.check(token_opens(demo, report, token).status == 200, "a fresh token did not open its report")
    start = time.monotonic()
    admin.call("POST", f"/api/v1/users/{viewer_id}/revoke-tokens")
    refused = token_opens(demo, report, token)
    found.check(refused.status == 401, f"a revoked token still answers {refused.status}")
    found.ok(f"revoked and refused {1000 * (time.monotonic() - start):.0f} ms after the revocation was asked")

    token = viewer.call("POST", f"/api/v1/reports/{report}/token").json()["token"]
    changed = admin.call("PATCH", f"/api/v1/users/{viewer_id}", {"password": "a-new-password-for-vera"})
    assert changed.status == 200, changed.text
    found.check(viewer.call("GET", "/api/v1/me").status == 401, "a new password left the old session signed in")
    found.check(token_opens(demo, report, token).status == 401, "a new password left the old token working")
    admin.call("PATCH", f"/api/v1/users/{viewer_id}", {"password": PASSWORD})
    viewer = demo.signed_in("viewer@example.com")
    token = viewer.call("POST", f"/api/v1/reports/{report}/token").json()["token"]
    other_report = by_name(admin.call("GET", "/api/v1/reports"), "name", "Executive summary")["id"]
    flipped = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    middle = len(token) // 2
    payload = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1:]
    for what, candidate, target in (("a changed signature", flipped, report), ("a changed payload", payload, report),
                                    ("a truncated token", token[:40], report), ("another report's id", token, other_report),
                                    ("no token at all", "", report)):
        answer = token_opens(demo, target, candidate)
        found.check(answer.status in (401, 403), f"{what} answered {answer.status}")
    for name in ("access_token", "token"):
        answer = demo.client().call("GET", f"/api/v1/embed/reports/{report}?{name}={token}")
        found.check(answer.status != 200, f"a token in the URL (?{name}=) was accepted")
        found.check(token not in answer.text, "a token in the URL was echoed back")
    found.ok("refused at once: revoked, after a new password, tampered, foreign, in the URL")


def rls_holds(demo, admin, found):
    found.probe("row-level security against hostile query bodies")
    report = by_name(admin.call("GET", "/api/v1/reports"), "name", "Regional performance")["id"]
    regional = demo.signed_in("regional@example.com")
    token = regional.call("POST", f"/api/v1/reports/{report}/token").json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    client = demo.client()

    def query(body):
        return client.call("POST", f"/api/v1/embed/reports/{report}/query", body, headers=bearer)

    regions = query({"page": "region", "visual": "by-region"})
    found.check(regions.status == 200, f"the regional user's own visual answered {regions.status}")
    seen = {row[0] for row in regions.json()["rows"]} if regions.status == 200 else set()
    found.check(seen <= {"North"}, f"the regional user saw regions {sorted(seen)}")
    south = query({"page": "region", "visual": "by-region", "filters": [{"column": "region", "values": ["South"]}]})
    rows = south.json().get("rows", []) if south.status == 200 else []
    found.check(not rows, f"a filter on another region returned {rows}")
    for body in (
        {"page": "region", "visual": "by-region", "filters": [{"column": "region' OR '1'='1", "values": ["x"]}]},
        {"page": "region", "visual": "by-region", "filters": [{"column": "region", "values": ["North' OR '1'='1"]}]},
        {"page": "region", "visual": "by-region; DROP TABLE sales"},
        {"page": "../../etc", "visual": "by-region"},
        {"page": "region", "slicer": "region"},
        {"page": "region", "visual": "by-region", "filters": [{"column": "region", "values": [None, 1, 1e308, [], {}]}]},
        {"page": "region", "visual": "by-region", "filters": [{"column": "region", "values": ["x"]}] * 10000},
    ):
        answer = query(body)
        found.check(answer.status < 500, f"{str(body)[:80]} answered {answer.status}")
        if answer.status == 200:
            values = {str(row[0]) for row in answer.json().get("rows", [])}
            found.check(values <= {"North"},
                        f"{str(body)[:80]} showed {sorted(values)[:5]}")
    found.ok("the user's rows only, whatever the body")


# --- Tenants --------------------------------------------------------------------------------

def other_organization(demo, admin, found):
    found.probe("an administrator of Acme against every operation, with Northwind's ids")
    acme = demo.signed_in("admin@acme.example.com")
    ids = {
        "user": by_name(admin.call("GET", "/api/v1/users"), "email", "viewer@example.com")["id"],
        "group": by_name(admin.call("GET", "/api/v1/groups"), "name", "Sales team")["id"],
        "report": by_name(admin.call("GET", "/api/v1/reports"), "name", "Sales overview")["id"],
        "dataset": admin.call("GET", "/api/v1/datasets").json()[0]["id"],
        "capacity": admin.call("GET", "/api/v1/capacities").json()[0]["id"],
        "key": admin.call("POST", "/api/v1/api-keys", {"name": "probe"}).json()["id"],
        "session": admin.call("GET", "/api/v1/me/sessions").json()["items"][0]["id"],
        "org": None,
    }
    document = demo.client().call("GET", "/api/v1/openapi.json").json()
    report = ids["report"]
    definition = admin.call("GET", f"/api/v1/reports/{report}/definition").json()
    bodies = {
        ("patch", "/users/{id}"): {"name": "Taken over", "role": "admin", "password": "taken-over-password"},
        ("patch", "/reports/{id}"): {"name": "Taken over"},
        ("patch", "/capacities/{id}"): {"name": "Taken over"},
        ("put", "/reports/{id}/definition"): definition,
        ("put", "/users/{id}/rls"): {"roles": ["All regions"], "attributes": {}},
        ("put", "/groups/{id}/rls"): {"roles": ["All regions"], "attributes": {}},
    }
    before = demo.state()
    answers = 0
    for path, operations in document["paths"].items():
        if "{" not in path or path.startswith("/installation"):
            continue
        for method in operations:
            filled = (path.replace("{user_id}", ids["user"]).replace("{group_id}", ids["group"])
                      .replace("{name}", "capacity.turnOn"))
            owner = ("key" if path.startswith("/api-keys") else "session" if path.startswith("/me/sessions")
                     else "user" if path.startswith("/users") else "group" if path.startswith("/groups")
                     else "dataset" if path.startswith("/datasets") else "capacity" if path.startswith("/capacities")
                     else "report")
            filled = filled.replace("{id}", ids[owner])
            if path.startswith("/embed"):
                continue
            answer = acme.call(method.upper(), "/api/v1" + filled, bodies.get((method, path), {}))
            answers += 1
            found.check(answer.status in (403, 404), f"{method.upper()} {path} answered {answer.status}: {answer.text[:120]}")
    found.check(demo.state() == before, "Acme's calls changed Northwind's data")
    token = acme.call("POST", f"/api/v1/reports/{report}/token")
    found.check(token.status in (403, 404), f"Acme got a token for Northwind's report: {token.status}")
    for path in ("/api/v1/installation/organizations", "/api/v1/installation/audit"):
        found.check(acme.call("GET", path).status == 403, f"Acme's administrator read {path}")
    found.ok(f"{answers} calls with another organization's ids: every one 403 or 404, nothing changed")


# --- Anonymous requests and hostile input ----------------------------------------------------

def anonymous_writes_nothing(demo, found):
    found.probe("every operation without credentials, and with garbage credentials")
    document = demo.client().call("GET", "/api/v1/openapi.json").json()
    public = {"/auth/login", "/auth/password-reset", "/auth/password-reset/complete", "/auth/invitation/accept", "/setup",
              # A screen asks for a pairing code and, with its secret, for its credential: kept in
              # memory, never written (the state check below holds them to it).
              "/display/pairings", "/display/pairings/claim"}
    before = demo.state(everything=True)
    calls = 0
    for path, operations in document["paths"].items():
        if path in public:
            continue
        filled = path.replace("{id}", "0190a5c2-0000-7000-8000-000000000000").replace(
            "{user_id}", "0190a5c2-0000-7000-8000-000000000001").replace(
            "{group_id}", "0190a5c2-0000-7000-8000-000000000002").replace("{name}", "capacity.turnOn")
        for method in operations:
            for headers in ({}, {"Authorization": "Bearer garbage.token.here"}, {"X-API-Key": "vtk_garbage"},
                            {"Cookie": "vitrine_session=garbage"}):
                answer = demo.client().call(method.upper(), "/api/v1" + filled, {}, headers=headers)
                calls += 1
                found.check(answer.status in (401, 403, 429), f"{method.upper()} {path} {headers} answered {answer.status}")
    for body in ({"email": "nobody@example.com"}, {"token": "garbage", "password": "whatever-password"}):
        for path in ("/api/v1/auth/password-reset", "/api/v1/auth/password-reset/complete", "/api/v1/auth/invitation/accept"):
            answer = demo.client().call("POST", path, body)
            calls += 1
            found.check(answer.status < 500, f"POST {path} answered {answer.status}")
    for _ in range(3):
        answer = demo.client().call("POST", "/api/v1/display/pairings", {})
        calls += 1
        found.check(answer.status in (201, 429), f"POST /display/pairings answered {answer.status}")
    for body in ({}, {"secret": "garbage"}, {"secret": "x" * 5000}, {"secret": 7}):
        answer = demo.client().call("POST", "/api/v1/display/pairings/claim", body)
        calls += 1
        found.check(answer.status in (400, 404, 413), f"POST /display/pairings/claim {body!r:.40} answered {answer.status}")
    found.check(demo.client().call("POST", "/api/v1/setup", {}).status in (400, 403, 404, 409),
                "the set-up of a set-up installation was not refused")
    found.check(demo.state(everything=True) == before, "anonymous requests changed the database")
    found.ok(f"{calls} anonymous calls: none answered, nothing written")


def hostile_bodies(demo, admin, found):
    found.probe("hostile bodies: broken JSON, wrong types, huge, nested, binary, lying lengths")
    before = demo.state()
    cases = [
        (b"{", "application/json"), (b"[]", "application/json"), (b"null", "application/json"),
        (b'{"name": 1}', "application/json"), (b'{"name": "a\\u0000b"}', "application/json"),
        (b'{"name": "' + b"x" * 2_000_000 + b'"}', "application/json"),
        (b"[" * 200_000 + b"]" * 200_000, "application/json"),
        (b'{"name": 1e999999}', "application/json"), (b"\xff\xfe\xfd", "application/json"),
        (b'{"name": "ok"}', "text/plain"), (b'{"name": "ok", "name": "twice"}', "application/json"),
        (b'{"name": "ok", "unknown": true}', "application/json"),
    ]
    for path in ("/api/v1/groups", "/api/v1/reports", "/api/v1/users"):
        for data, content_type in cases:
            answer = admin.call("POST", path, data=data, content_type=content_type)
            found.check(400 <= answer.status < 500, f"POST {path} {data[:30]!r} answered {answer.status}")
            found.check(answer.error_code() is not None, f"POST {path} {data[:30]!r} answered no JSON error: {answer.text[:80]!r}")
            found.check(not any(leak in answer.text.lower() for leak in LEAKS),
                        f"POST {path} {data[:30]!r} told about the inside: {answer.text[:200]!r}")
    named = admin.call("POST", "/api/v1/groups", {"name": 7})
    found.check("name" in named.text, f"a wrong type did not name its field: {named.text}")
    found.check(demo.state() == before, "refused bodies changed the database")

    host = urlparse(demo.base)
    with socket.create_connection((host.hostname, host.port), timeout=10) as sock:
        sock.sendall(f"POST /api/v1/datasets HTTP/1.1\r\nHost: {host.netloc}\r\nContent-Type: multipart/form-data; "
                     f"boundary=x\r\nContent-Length: {17 * 1024 ** 3}\r\nCookie: vitrine_session={admin.session_cookie()}\r\n"
                     f"X-CSRF-Token: {admin.csrf}\r\n\r\n".encode())
        try:
            head = sock.recv(4096).decode("latin-1")
        except socket.timeout:
            head = "(no answer in 10 s)"
    found.check(head.startswith("HTTP/1.1 413"), f"a 17 GiB upload was not refused before its body: {head[:60]!r}")
    found.ok("every one a 4xx JSON error naming what is wrong, nothing changed")


def slow_clients(demo, found):
    found.probe("slow and half-open clients (header read timeout: 2 s here)")
    host = urlparse(demo.base)
    sock = socket.create_connection((host.hostname, host.port), timeout=10)
    sock.sendall(f"GET / HTTP/1.1\r\nHost: {host.netloc}\r\n".encode())
    start = time.monotonic()
    try:
        # An answer (408) or the end of the connection: either way the server let go.
        while sock.recv(4096):
            pass
        closed = True
    except ConnectionResetError:
        closed = True
    except socket.timeout:
        closed = False
    waited = time.monotonic() - start
    sock.close()
    found.check(closed and waited < 5, f"a client that never finished its headers was kept {waited:.1f} s")
    found.check(demo.client().call("GET", "/healthz").status == 200, "the server stopped answering")
    for path in ("/assets/viewer/..%2f..%2fCargo.toml", "/assets/viewer/../../Cargo.toml",
                 "/assets/viewer/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/assets/viewer/%00"):
        answer = demo.client().call("GET", path)
        found.check(answer.status in (400, 404) and "[package]" not in answer.text and "root:" not in answer.text,
                    f"GET {path} answered {answer.status}")
    found.ok(f"cut off after {waited:.1f} s; paths outside the assets not served")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--rounds", type=int, default=30, help="rounds of the token race")
    parser.add_argument("--log", default="/tmp/vitrine-probe-server.log")
    args = parser.parse_args()
    found = Findings()
    with open(args.log, "w") as log:
        demo = Demo(args.binary, BEHIND_PROXY, log)
        try:
            admin = demo.signed_in("admin@example.com")
            for probe in (lockout_at_any_concurrency, tokens_race_removal, tokens_refused_at_once, rls_holds,
                          other_organization, hostile_bodies):
                if probe is tokens_race_removal:
                    probe(demo, admin, found, args.rounds)
                else:
                    probe(demo, admin, found)
            for probe in (throttle_per_address, cross_site, anonymous_writes_nothing, slow_clients):
                probe(demo, found)
        finally:
            demo.stop()
        forwarded_for_ignored(args.binary, log, found)
    panics = [line for line in open(args.log) if "panicked" in line]
    found.check(not panics, f"the server panicked: {panics[:1]}")
    if found.failed:
        print(f"\n{len(found.failed)} found:\n  " + "\n  ".join(found.failed))
        sys.exit(1)
    print("\nevery probe found nothing")


if __name__ == "__main__":
    main()
