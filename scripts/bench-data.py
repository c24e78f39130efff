"""Issue 13's benchmarks, side by side in one run on the same cores (see scripts/bench-data).

1. The demo's "Sales overview" visuals over N generated rows on disk, through Vitrine's query API
   (token, row-level security, JSON, loopback; the result cache off), against DuckDB (2 threads)
   running the same SQL over the same Parquet file, and DuckDB with the table in memory. The
   server's resident memory (now and at its peak) is read from /proc.
2. Optionally, an upload of the same rows as CSV: time and the server's peak resident memory.
3. N rows in PostgreSQL, direct: a visual through Vitrine against the same SQL run by psql,
   and the rows the visual needs pulled out of PostgreSQL (what computing it here would cost).
4. The result cache: a hit's time against the server's cheapest answer, and a thousand
   concurrent requests for one visual.

Standard library plus the duckdb package (installed by scripts/bench-data).
"""

import argparse
import concurrent.futures
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "pylib"))
from vitrine_demo import Client  # noqa: E402

import duckdb  # noqa: E402

PASSWORD = "bench-password-1"
READY = re.compile(r"Vitrine demo is running at (http://127\.0\.0\.1:\d+)/")
PG = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-X", "-q"]

# The visuals of Sales overview › Overview, and the same computation in DuckDB's SQL.
VISUALS = {
    "revenue": "SELECT sum(revenue) FROM {t}",
    "units": "SELECT sum(units) FROM {t}",
    "orders": "SELECT count(units) FROM {t}",
    "trend": "SELECT date_trunc('month', date) AS d, sum(revenue) AS m FROM {t} GROUP BY d ORDER BY d LIMIT 1001",
    "by-region": "SELECT region AS d, sum(revenue) AS m FROM {t} GROUP BY d ORDER BY m DESC, d LIMIT 51",
    "by-channel": "SELECT channel AS d, sum(revenue) AS m FROM {t} GROUP BY d ORDER BY m DESC, d LIMIT 13",
}


def median_ms(samples):
    return statistics.median(samples) * 1000


def start_demo(binary, data_dir, rows, cache=True, column_cache_mb=None):
    """The demo with `rows` rows; without the result cache unless `cache`; with a column cache
    of `column_cache_mb` (None: the default)."""
    env = dict(os.environ, VITRINE_LOG="warn")
    config = Path(data_dir) / "bench.toml"
    limits = "" if cache else "result_cache_seconds = 0\n"
    if column_cache_mb is not None:
        limits += f"column_cache_megabytes = {column_cache_mb}\n"
    config.write_text(f"[limits]\n{limits}")
    process = subprocess.Popen(
        [binary, "demo", "--password", PASSWORD, "--port", "0", "--data-dir", str(data_dir),
         "--rows", str(rows), "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )
    started = time.time()
    while True:
        line = process.stdout.readline()
        if not line:
            raise SystemExit("vitrine demo did not start")
        match = READY.search(line)
        if match:
            return process, match.group(1), time.time() - started


def memory(pid):
    """(resident now, peak resident) in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    read = lambda key: int(re.search(rf"{key}:\s+(\d+) kB", status).group(1)) / 1024  # noqa: E731
    return read("VmRSS"), read("VmHWM")


def signed_in(base, email="admin@example.com"):
    client = Client(base)
    answer = client.sign_in(email, PASSWORD)
    assert answer.status == 200, answer.text
    return client


def report_id(client, name):
    return next(r["id"] for r in client.call("GET", "/api/v1/reports").json() if r["name"] == name)


def token_for(client, report):
    answer = client.call("POST", f"/api/v1/reports/{report}/token", {})
    assert answer.status == 200, answer.text
    return answer.json()["token"]


_connections = threading.local()


def post(base, path, token, body):
    """POSTs JSON over this thread's kept-alive connection to `base`, as a viewer's browser
    does (HTTP/1.1 keeps the connection open between a page's requests)."""
    connection = getattr(_connections, "connection", None)
    if connection is None or getattr(_connections, "base", None) != base:
        url = urllib.parse.urlsplit(base)
        connection = http.client.HTTPConnection(url.hostname, url.port)
        _connections.connection, _connections.base = connection, base
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        connection.request("POST", path, json.dumps(body), headers)
        answer = connection.getresponse()
    except (http.client.HTTPException, ConnectionError):
        _connections.connection = None
        raise
    return answer.status, answer.read()


def query(base, report, token, body):
    status, text = post(base, f"/api/v1/embed/reports/{report}/query", token, body)
    assert status == 200, text
    return json.loads(text)


def floor_query(base, report, token):
    """The query API's cost without a scan: a visual the page does not have (token checked,
    report and definition read, refused with 400 before any plan)."""
    status, text = post(base, f"/api/v1/embed/reports/{report}/query", token,
                        {"page": "overview", "visual": "no-such-visual"})
    assert status == 400, text


def timed(action, runs):
    action()  # warm-up
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return median_ms(samples)


def visual_times(base, report, token, runs):
    """Each visual of the overview through the query API: a warm-up, then the median; then
    `page`, a refresh of the whole page as the viewer makes it (the six at once), repeated —
    the visuals' columns then compete for the column cache as a wallboard's do."""
    ask = lambda v: query(base, report, token, {"page": "overview", "visual": v})  # noqa: E731
    times = {v: timed(lambda v=v: ask(v), runs) for v in VISUALS}
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(VISUALS)) as pool:
        times["page"] = timed(lambda: list(pool.map(ask, VISUALS)), runs)
    return times


def dataset_file(data_dir):
    return next((Path(data_dir) / "datasets").glob("*/v1*.parquet"))


def files_vs_duckdb(binary, rows, runs, upload):
    print(f"\n### {rows:,} rows on disk\n")
    with tempfile.TemporaryDirectory(dir="/var/tmp") as data_dir:
        process, base, start_seconds = start_demo(binary, data_dir, rows, cache=False)
        try:
            parquet = dataset_file(data_dir)
            size_mb = parquet.stat().st_size / 1024 / 1024
            idle, _ = memory(process.pid)
            admin = signed_in(base)
            report = report_id(admin, "Sales overview")
            token = token_for(admin, report)
            vitrine = visual_times(base, report, token, runs)
            floor = timed(lambda: floor_query(base, report, token), max(runs, 20))
            now, peak = memory(process.pid)
            upload_row = None
            if upload:
                upload_row = upload_csv(base, admin, parquet, data_dir, process.pid)
        finally:
            process.terminate()
            process.wait()
        # A restart: the server is ready without reading the data. It runs without the column
        # cache, so that every scan decodes the file.
        process, base, ready_seconds = start_demo(binary, data_dir, rows, cache=False,
                                                  column_cache_mb=0)
        try:
            admin = signed_in(base)
            report = report_id(admin, "Sales overview")
            uncached = visual_times(base, report, token_for(admin, report), runs)
        finally:
            process.terminate()
            process.wait()

        connection = duckdb.connect()
        connection.execute("SET threads = 2")
        over_file = f"read_parquet('{parquet}')"
        on_file = {v: timed(lambda sql=sql: connection.execute(sql.format(t=over_file)).fetchall(), runs)
                   for v, sql in VISUALS.items()}
        connection.execute(f"CREATE TABLE sales AS SELECT * FROM {over_file}")
        in_memory = {v: timed(lambda sql=sql: connection.execute(sql.format(t="sales")).fetchall(), runs)
                     for v, sql in VISUALS.items()}
        connection.close()

    print(f"Dataset file: {size_mb:,.0f} MB of Parquet; the demo generated and wrote it in "
          f"{start_seconds:.1f} s. Server resident memory: {idle:.0f} MiB at start, {now:.0f} MiB after "
          f"the queries, peak {peak:.0f} MiB. A restart over the same data directory was ready "
          f"(listening, no data read) after {ready_seconds:.1f} s.\n")
    print(f"The query API's floor (HTTP on loopback, a kept-alive connection, token, report, no scan): "
          f"{floor:.1f} ms, part of each of Vitrine's times (DuckDB runs "
          f"in this process).\n")
    print(f"| Visual (median of {runs}) | Vitrine ms | DuckDB over the file ms | DuckDB in memory ms "
          f"| Vitrine / DuckDB file | Vitrine without column cache ms | its / DuckDB file |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for v in VISUALS:
        print(f"| {v} | {vitrine[v]:.1f} | {on_file[v]:.1f} | {in_memory[v]:.1f} "
              f"| {vitrine[v] / on_file[v]:.2f} | {uncached[v]:.1f} | {uncached[v] / on_file[v]:.2f} |")
    total = [sum(t[v] for v in VISUALS) for t in (vitrine, on_file, in_memory, uncached)]
    print(f"| **all six** | **{total[0]:.1f}** | **{total[1]:.1f}** | **{total[2]:.1f}** "
          f"| **{total[0] / total[1]:.2f}** | **{total[3]:.1f}** | **{total[3] / total[1]:.2f}** |")
    print(f"| the page refreshed, six at once (DuckDB: the six in turn) | {vitrine['page']:.1f} "
          f"| {total[1]:.1f} | {total[2]:.1f} | {vitrine['page'] / total[1]:.2f} "
          f"| {uncached['page']:.1f} | {uncached['page'] / total[1]:.2f} |")
    if upload_row:
        print(upload_row)


def upload_csv(base, admin, parquet, data_dir, pid):
    """Uploads the dataset as CSV (written by DuckDB) through the API; curl streams the file."""
    csv = Path(data_dir) / "upload.csv"
    duckdb.connect().execute(f"COPY (SELECT * FROM read_parquet('{parquet}')) TO '{csv}' (HEADER)")
    size = csv.stat().st_size
    cookie = "; ".join(f"{c.name}={c.value}" for c in admin.jar)
    started = time.time()
    curl = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"{base}/api/v1/datasets",
         "-H", f"Cookie: {cookie}", "-H", f"X-CSRF-Token: {admin.csrf}",
         "-F", "name=Uploaded", "-F", f"file=@{csv};filename=sales.csv"],
        capture_output=True, text=True, check=False,
    )
    seconds = time.time() - started
    _, peak = memory(pid)
    csv.unlink()
    return (f"\nUpload of the same rows as CSV ({size / 1024 / 1024:,.0f} MB) through `POST /api/v1/datasets`: "
            f"HTTP {curl.stdout}, {seconds:.0f} s ({size / 1024 / 1024 / seconds:.0f} MB/s), "
            f"server peak resident memory over the whole run so far {peak:.0f} MiB.")


def psql_ms(database, sql, runs):
    """psql's own timing of `sql`, median of `runs`."""
    script = "\\timing on\n" + (sql + ";\n") * (runs + 1)
    out = subprocess.run(PG + ["-d", database], input=script, capture_output=True, text=True, check=True).stdout
    times = [float(t) for t in re.findall(r"Time: ([\d.]+) ms", out)][1:]
    return statistics.median(times)


def postgres_direct(binary, rows, runs):
    print(f"\n### {rows:,} rows in PostgreSQL, direct\n")
    database = f"vitrine_bench_{os.getpid()}"
    subprocess.run(PG + ["-d", "postgres", "-c", f"CREATE DATABASE {database}"], check=True)
    try:
        started = time.time()
        subprocess.run(PG + ["-d", database], check=True, input=f"""
            CREATE TABLE sales AS
            SELECT date '2023-01-01' + (i % 1096) AS date,
                   (ARRAY['North','South','East','West','Central'])[1 + i % 5] AS region,
                   (ARRAY['Online','Retail','Partner'])[1 + (i / 7) % 3] AS channel,
                   1 + i % 8 AS units, ((i % 1000) * 1.5)::float8 AS revenue
            FROM generate_series(0, {rows} - 1) AS g(i);
            VACUUM ANALYZE sales;""", text=True)
        loaded = time.time() - started
        with tempfile.TemporaryDirectory(dir="/var/tmp") as data_dir:
            process, base, _ = start_demo(binary, data_dir, 1000, cache=False)
            try:
                admin = signed_in(base)
                connection = admin.call("POST", "/api/v1/connections", {
                    "name": "Bench", "kind": "postgres", "host": "127.0.0.1", "port": 5432,
                    "database": database, "user": "postgres", "password": "", "tls": "disable",
                    "queryTimeoutSeconds": 60}).json()["id"]
                dataset = admin.call("POST", "/api/v1/datasets", {
                    "name": "Live", "connection": connection, "table": "sales", "mode": "direct"}).json()["id"]
                report = admin.call("POST", "/api/v1/reports", {"name": "Live"}).json()["id"]
                definition = {"dataset": dataset, "pages": [{"id": "main", "title": "Main", "visuals": [
                    {"id": "by-region", "type": "bar", "title": "By region", "dimension": {"column": "region"},
                     "measures": [{"column": "revenue", "agg": "sum"}]},
                    {"id": "trend", "type": "line", "title": "By month", "dimension": {"column": "date", "grain": "month"},
                     "measures": [{"column": "revenue", "agg": "sum"}]}]}]}
                saved = admin.call("PUT", f"/api/v1/reports/{report}/definition", definition)
                assert saved.status == 200, saved.text
                token = token_for(admin, report)
                vitrine = {v: timed(lambda v=v: query(base, report, token, {"page": "main", "visual": v}), runs)
                           for v in ("by-region", "trend")}
                cache_rows = cache_figures(binary, base, admin, report, token, runs)
            finally:
                process.terminate()
                process.wait()
        psql = {
            "by-region": psql_ms(database, "SELECT region, sum(revenue) AS m FROM sales GROUP BY region ORDER BY m DESC LIMIT 51", runs),
            "trend": psql_ms(database, "SELECT CAST(date_trunc('month', date) AS date) AS d, sum(revenue) FROM sales GROUP BY d ORDER BY d LIMIT 1001", runs),
        }
        pulled = psql_ms(database, "COPY (SELECT region, revenue FROM sales) TO STDOUT", max(1, runs // 2))
    finally:
        subprocess.run(PG + ["-d", "postgres", "-c", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"], check=False)
    print(f"Table of {rows:,} rows made in {loaded:.0f} s. psql's `\\timing` is the server's time plus the answer's "
          "transfer; Vitrine's is client-side over HTTP (token, RLS, unparser, JSON).\n")
    print(f"| Visual (median of {runs}) | Vitrine direct ms | same SQL by psql ms | ratio |")
    print("|---|---:|---:|---:|")
    for v in vitrine:
        print(f"| {v} | {vitrine[v]:.1f} | {psql[v]:.1f} | {vitrine[v] / psql[v]:.2f} |")
    print(f"\nPulling the two columns the bars need (`COPY (SELECT region, revenue …) TO STDOUT`, psql): "
          f"**{pulled:.0f} ms** before any aggregation, {pulled / vitrine['by-region']:.0f}× the pushed-down visual.")
    print(cache_rows)


def cache_figures(binary, base, admin, report, token, runs):
    """Hits of the result cache against the server's cheapest answer, with the cache on."""
    # The demo above runs with the cache off; this one asks a second server with it on.
    with tempfile.TemporaryDirectory(dir="/var/tmp") as data_dir:
        process, cached_base, _ = start_demo(binary, data_dir, 100_000, cache=True)
        try:
            admin = signed_in(cached_base)
            overview = report_id(admin, "Sales overview")
            token = token_for(admin, overview)
            body = {"page": "overview", "visual": "by-region"}
            query(cached_base, overview, token, body)
            samples = []
            for _ in range(max(200, runs * 20)):
                started = time.perf_counter()
                query(cached_base, overview, token, body)
                samples.append(time.perf_counter() - started)
            hit = median_ms(samples)
            anonymous = Client(cached_base)
            base_samples = []
            for _ in range(max(200, runs * 20)):
                started = time.perf_counter()
                anonymous.call("GET", "/api/v1/no-such-route")
                base_samples.append(time.perf_counter() - started)
            floor = median_ms(base_samples)
            fresh = {"page": "overview", "visual": "by-channel"}
            started = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(max_workers=64) as pool:
                answers = list(pool.map(lambda _: json.dumps(query(cached_base, overview, token, fresh)), range(1000)))
            burst = time.perf_counter() - started
            assert len(set(answers)) == 1
        finally:
            process.terminate()
            process.wait()
    return (f"\nResult cache (a second demo, cache on): a hit through HTTP **{hit:.2f} ms** at p50 client-side, "
            f"against {floor:.2f} ms for the server's cheapest answer (an unknown route) in the same run — the "
            f"hit's own server time is the difference, {max(hit - floor, 0):.2f} ms. A thousand concurrent requests "
            f"(64 at a time) for one visual not yet cached: {burst * 1000:.0f} ms in all, one answer for all "
            "(that one source query serves them is proved in tests/sources.rs, from PostgreSQL's side).")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--rows", type=int, action="append", default=[])
    parser.add_argument("--upload", action="store_true", help="also upload the largest as CSV")
    parser.add_argument("--pg-rows", type=int, default=0)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"Run of {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores.")
    for rows in args.rows:
        files_vs_duckdb(args.binary, rows, args.runs, args.upload and rows == max(args.rows))
    if args.pg_rows:
        postgres_direct(args.binary, args.pg_rows, args.runs)


if __name__ == "__main__":
    main()
