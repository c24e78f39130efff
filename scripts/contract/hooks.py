"""Schemathesis hooks for Vitrine's contract run: how it signs in, and the check that a
rejected request changes nothing.

Signing in: the run's own requests may end its session (signing out, ending the current
session, an administrator changing their own account), so the session is renewed every few
seconds; when the account can no longer sign in (the run changed its password), an
administrator's run goes on with an API key of the organization.

Before every call the database of the server under test is fingerprinted; after a 4xx answer
it must be unchanged. The fingerprint covers every table and column except what a rejected
request records by design: session use, the token audit (an authentic token's refusal is
audited), a password check's failed-attempt count, an API key's last use.
"""

import http.cookiejar
import json
import os
import urllib.error
import urllib.request

import schemathesis
import vitrine_demo

DATABASE = os.environ["VITRINE_CONTRACT_DB"]
BASE = os.environ["VITRINE_CONTRACT_BASE"]
EMAIL = os.environ["VITRINE_CONTRACT_EMAIL"]
PASSWORD = os.environ["VITRINE_CONTRACT_PASSWORD"]
API_KEY = os.environ.get("VITRINE_CONTRACT_API_KEY")


def _call(opener, method, path, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with opener.open(request, timeout=20) as response:
        text = response.read()
        return json.loads(text) if text else None


def sign_in():
    """Headers for a fresh session of the run's account, with an embed token it may use."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    try:
        answer = _call(opener, "POST", "/api/v1/auth/login", {"email": EMAIL, "password": PASSWORD})
    except urllib.error.HTTPError:
        return {"X-API-Key": API_KEY} if API_KEY else {}
    csrf = answer["csrfToken"]
    cookie = next(c.value for c in jar if c.name == "vitrine_session")
    headers = {"Cookie": f"vitrine_session={cookie}", "X-CSRF-Token": csrf}
    try:
        for report in _call(opener, "GET", "/api/v1/reports"):
            try:
                issued = _call(
                    opener, "POST", f"/api/v1/reports/{report['id']}/token", headers={"X-CSRF-Token": csrf}
                )
            except urllib.error.HTTPError:
                continue
            headers["Authorization"] = f"Bearer {issued['token']}"
            break
    except urllib.error.HTTPError:
        pass
    return headers


# A 401 from an operation that needs the session means the run itself ended it (signing out,
# ending the current session): sign in again and repeat the request. The public operations
# authenticate by what they carry and get no session.
@schemathesis.auth(refresh_interval=120, retry_on=[401]).skip_for(
    path_regex=r"^/(auth/(login|password-reset|password-reset/complete|invitation/accept)|setup)$"
)
class Session:
    def get(self, case, context):
        return sign_in()

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers.update(data)


_before = {}


def fingerprint():
    return vitrine_demo.fingerprint(
        DATABASE, vitrine_demo.SKIPPED_TABLES, vitrine_demo.SKIPPED_COLUMNS
    )


@schemathesis.hook
def before_call(context, case, kwargs):
    _before["state"] = fingerprint()


@schemathesis.check
def rejected_requests_change_nothing(ctx, response, case):
    if not 400 <= response.status_code < 500:
        return None
    before = _before.get("state")
    if before is not None and fingerprint() != before:
        raise AssertionError(
            f"{case.method} {case.path} was refused with {response.status_code} "
            "but the database changed"
        )
    return None


# The answers of a report's capacity that is paused or starting: documented 503s with
# Retry-After, which the viewers wait out; and Microsoft's clouds out of reach, a documented
# 502. Any other 5xx is a failure.
CAPACITY_WAITS = {"CapacityStarting", "CapacityNotActive"}
UPSTREAM_DOWN = {"PowerBiUnavailable"}


@schemathesis.check
def no_server_error_but_a_capacity_wait(ctx, response, case):
    if response.status_code < 500:
        return None
    code = None
    try:
        code = json.loads(response.content)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        pass
    if response.status_code == 503 and code in CAPACITY_WAITS:
        return None
    if response.status_code == 502 and code in UPSTREAM_DOWN:
        return None
    raise AssertionError(
        f"{case.method} {case.path} answered {response.status_code} ({code or 'no error code'})"
    )

