"""What the scripts that drive a real `vitrine demo` share: starting and stopping it, an HTTP
client that answers every status instead of raising, and a fingerprint of its database.

Standard library only, so that every script can use it without a virtualenv.
"""

import hashlib
import http.cookiejar
import json
import os
import re
import signal
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

READY = re.compile(r"Vitrine demo is running at (http://127\.0\.0\.1:\d+)/")
SESSION_COOKIE = "vitrine_session"


def start_demo(binary, data_dir, password, log, config=""):
    """Starts `vitrine demo` on a free port of 127.0.0.1 with `config` as its config file's
    text; returns the process and its base URL once it listens."""
    env = dict(os.environ, VITRINE_LOG=os.environ.get("VITRINE_LOG", "warn"))
    config_path = Path(data_dir) / "demo.toml"
    config_path.write_text(config)
    process = subprocess.Popen(
        [binary, "demo", "--password", password, "--port", "0", "--data-dir", str(data_dir),
         "--config", str(config_path)],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env=env,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        match = READY.search(line)
        if match:
            return process, match.group(1)
    process.kill()
    raise SystemExit("vitrine demo did not start; see the server log")


def stop_demo(process):
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


# What authentic requests record by design: session use, the token audit, a password check's
# failed-attempt count, an API key's last use, capacity activity.
# `leases`: the node renews its lease every few seconds, whatever the requests do; `changes`:
# what an earlier, accepted request announced to other nodes is appended just after it answers;
# `allowances` and `stranger_attempts`: a sign-in attempt, right or wrong, spends its address's
# allowance, and a wrong password on an email of nobody is counted as on anyone's.
SKIPPED_TABLES = {
    "sessions",
    "token_events",
    "schema_migrations",
    "_sqlx_migrations",
    "leases",
    "changes",
    "allowances",
    "stranger_attempts",
}
SKIPPED_COLUMNS = {
    "users": {"failed_logins", "locked_until", "updated_at"},
    "api_keys": {"last_used_at"},
    "capacities": {"last_activity"},
}


def fingerprint(database, skipped_tables=frozenset(), skipped_columns=None):
    """A digest of every row of every table of the SQLite database at `database`, but for the
    tables and columns skipped; equal digests mean nothing else changed."""
    skipped_columns = skipped_columns or {}
    digest = hashlib.sha256()
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)
    try:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        for table in tables:
            if table in skipped_tables or table.startswith("sqlite_"):
                continue
            columns = [
                row[1]
                for row in connection.execute(f'PRAGMA table_info("{table}")')
                if row[1] not in skipped_columns.get(table, set())
            ]
            listed = ", ".join(f'"{c}"' for c in columns)
            rows = connection.execute(f'SELECT {listed} FROM "{table}" ORDER BY {listed}')
            digest.update(table.encode())
            for row in rows:
                digest.update(repr(row).encode())
    finally:
        connection.close()
    return digest.hexdigest()


@dataclass
class Answer:
    status: int
    headers: dict
    text: str

    def header(self, name):
        """A header's value, whatever the case of its name; None when absent."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    def json(self):
        try:
            return json.loads(self.text)
        except ValueError:
            return None

    def error_code(self):
        body = self.json()
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            return body["error"].get("code")
        return None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Client:
    """One browser-like client: its own cookies, its own CSRF token once signed in, and
    headers it sends with every request (an `X-Forwarded-For`, say)."""

    def __init__(self, base, headers=None):
        self.base = base
        self.headers = dict(headers or {})
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )
        self.csrf = None

    def call(self, method, path, body=None, headers=None, data=None, content_type=None):
        """`body` is sent as JSON; `data` as raw bytes. Never raises on an HTTP status."""
        if body is not None:
            data = json.dumps(body).encode()
            content_type = content_type or "application/json"
        request = urllib.request.Request(self.base + path, data=data, method=method)
        for name, value in {**self.headers, **(headers or {})}.items():
            request.add_header(name, value)
        if content_type:
            request.add_header("Content-Type", content_type)
        if self.csrf and method not in ("GET", "HEAD") and "X-CSRF-Token" not in (headers or {}):
            request.add_header("X-CSRF-Token", self.csrf)
        try:
            with self.opener.open(request, timeout=30) as response:
                return Answer(response.status, dict(response.headers), response.read().decode("utf-8", "replace"))
        except urllib.error.HTTPError as error:
            return Answer(error.code, dict(error.headers), error.read().decode("utf-8", "replace"))

    def sign_in(self, email, password):
        answer = self.call("POST", "/api/v1/auth/login", {"email": email, "password": password})
        if answer.status == 200:
            self.csrf = answer.json()["csrfToken"]
        return answer

    def session_cookie(self):
        return next((c.value for c in self.jar if c.name == SESSION_COOKIE), None)
