#!/usr/bin/env python3
"""The benchmark harness: wharf against `wasmtime serve` and a native hyper
server, side by side in one run, written to bench/RESULTS.md.

    bench/run.py            # the full run, about 30 minutes; writes bench/RESULTS.md
    bench/run.py --smoke    # a few seconds per workload, on debug builds, so the
                            # harness cannot rot; CI runs it (make test)
    bench/run.py --only hello --against REV
                            # warm hello, this tree against commit REV, interleaved

It installs what it compares (pinned, into ~/.cache/wharf/tools): wasmtime-cli
48.0.8, oha 1.16.0 and, from npm, componentize-js for a JavaScript component of
about 13 MB. Servers run on CPU 0 and oha on CPU 1 (taskset), so each server has
one core and one tokio worker. Throughput rounds interleave the contenders and
report medians and their ratios.
"""

import argparse
import hashlib
import json
import os
import pathlib
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
TOOLS = pathlib.Path(os.environ.get("WHARF_TOOLS", pathlib.Path.home() / ".cache/wharf/tools"))
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
WASMTIME_VERSION = "48.0.8"
OHA_VERSION = "1.16.0"
COMPONENTIZE_JS_VERSION = "0.23.0"
SERVER_CPU = "0"
LOAD_CPU = "1"


def log(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


def run(cmd, **kwargs):
    return subprocess.run(cmd, check=True, **kwargs)


# ---------------------------------------------------------------- set-up


def install_tools():
    """wasmtime-cli and oha, pinned, built once into TOOLS."""
    for crate, version, binary in [
        ("wasmtime-cli", WASMTIME_VERSION, "wasmtime"),
        ("oha", OHA_VERSION, "oha"),
    ]:
        path = TOOLS / "bin" / binary
        if path.exists() and version in subprocess.run(
            [path, "--version"], capture_output=True, text=True
        ).stdout:
            continue
        log(f"installing {crate} {version} (several minutes, once)")
        run(["cargo", "install", crate, "--version", version, "--locked", "--root", TOOLS])


def build(profile):
    """wharf, the native server and the guests."""
    run([ROOT / "scripts/setup.sh"])
    run([ROOT / "scripts/build-guests.sh", TARGET / "guests"])
    args = ["cargo", "build", "--locked", "-p", "wharf", "-p", "native-hello"]
    if profile == "release":
        args.append("--release")
    run(args, cwd=ROOT)
    out = TARGET / profile
    return out / "wharf", out / "native-hello"


def build_baseline(rev, profile, workdir):
    """The wharf binary of commit `rev`, built in a worktree with the same
    target directory (so only wharf's own crates compile), and copied out
    before this tree's build replaces it."""
    tree = pathlib.Path(workdir) / "baseline-tree"
    run(["git", "worktree", "add", "--detach", tree, rev], cwd=ROOT)
    try:
        args = ["cargo", "build", "--locked", "-p", "wharf"]
        if profile == "release":
            args.append("--release")
        run(args, cwd=tree)
        binary = pathlib.Path(workdir) / f"wharf-{rev}"
        shutil.copy2(TARGET / profile / "wharf", binary)
        return binary
    finally:
        run(["git", "worktree", "remove", "--force", tree], cwd=ROOT)
        # Cargo records the baseline's sources by paths relative to the
        # workspace, the same as this tree's, and its build is newer than
        # this tree's files: without this, cargo would take this tree's
        # crates for built already and keep the baseline's.
        now = time.time()
        tracked = subprocess.run(["git", "ls-files", "-z", "host"], cwd=ROOT, check=True,
                                 capture_output=True).stdout.split(b"\0")
        for path in filter(None, tracked):
            os.utime(ROOT / os.fsdecode(path), (now, now))


def js_component(workdir):
    """A JavaScript wasi:http hello world of about 13 MB, built with
    componentize-js. It targets wasi:http 0.2.10, so the WIT it builds against
    is wharf's vendored WASI WIT renamed to that version."""
    source = ROOT / "bench/js-hello/hello.js"
    key = hashlib.sha256(source.read_bytes() + COMPONENTIZE_JS_VERSION.encode()).hexdigest()[:16]
    out = TARGET / "bench" / f"hello-js-{key}.wasm"
    if out.exists():
        return out
    npm_dir = TOOLS / "npm" / f"componentize-js-{COMPONENTIZE_JS_VERSION}"
    cli = npm_dir / "node_modules/.bin/componentize-js"
    package = npm_dir / "node_modules/@bytecodealliance/componentize-js/package.json"
    installed = json.loads(package.read_text())["version"] if package.exists() else None
    if installed != COMPONENTIZE_JS_VERSION:
        log(f"installing componentize-js {COMPONENTIZE_JS_VERSION} from npm")
        npm_dir.mkdir(parents=True, exist_ok=True)
        run(["npm", "install", "--prefix", npm_dir, "--no-audit", "--no-fund",
             f"@bytecodealliance/componentize-js@{COMPONENTIZE_JS_VERSION}"])
    wit = pathlib.Path(workdir) / "js-wit"
    (wit / "deps").mkdir(parents=True, exist_ok=True)
    for dep in (ROOT / "wit/deps").glob("*.wit"):
        # Package versions and `@since` gates alike.
        (wit / "deps" / dep.name).write_text(dep.read_text().replace("0.2.12", "0.2.10"))
    (wit / "world.wit").write_text(
        "package bench:js-hello;\n\nworld hello {\n  include wasi:http/proxy@0.2.10;\n}\n"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    log("building the JavaScript component (about 20 s)")
    run([cli, source, "--wit", wit, "--world-name", "hello", "-o", out])
    return out


def variant(component, index, out_dir):
    """`component` with a custom section naming `index`: the same code under
    a different digest, so a server sees a new app."""
    data = bytearray(component.read_bytes())
    name = b"wharf-bench"
    payload = leb128(len(name)) + name + f"variant {index}".encode()
    data += b"\x00" + leb128(len(payload)) + payload
    path = pathlib.Path(out_dir) / f"variant-{index}.wasm"
    path.write_bytes(bytes(data))
    return path


def leb128(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


# ---------------------------------------------------------------- servers


# Every contender runs without RUST_BACKTRACE: an operator's server does not
# set it, and with it wasmtime captures a backtrace for each error it builds,
# even one it drops at once.
SERVER_ENV = {k: v for k, v in os.environ.items() if k not in ("RUST_BACKTRACE", "RUST_LIB_BACKTRACE")}


class Server:
    """A server process pinned to SERVER_CPU, and the address it listens on."""

    def __init__(self, cmd, pattern, env=None, wait=True):
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU, *map(str, cmd)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**SERVER_ENV, "WHARF_LOG": "warn", **(env or {})},
        )
        self.addresses = []
        self.pattern = re.compile(pattern)
        if wait:
            self.wait_for_addresses(1)

    def wait_for_addresses(self, count, timeout=600):
        deadline = time.time() + timeout
        while len(self.addresses) < count:
            line = self.proc.stderr.readline()
            if not line:
                raise RuntimeError(f"{self.proc.args} exited before listening")
            match = self.pattern.search(line)
            if match:
                self.addresses.append(match.group(1))
            if time.time() > deadline:
                raise RuntimeError(f"{self.proc.args} did not start")
        # Keep draining stderr so the server never blocks on it.
        import threading

        threading.Thread(target=self.proc.stderr.read, daemon=True).start()

    @property
    def url(self):
        return f"http://{self.addresses[0]}/"

    def rss_mb(self):
        pid = self.server_pid()
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def server_pid(self):
        # taskset execs the server, so the pid is the server's.
        return self.proc.pid

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Wharf(Server):
    """`wharf serve` in its own data directory, with an admin client. Its
    addresses are the public, admin and (when on) metrics listeners'."""

    def __init__(self, binary, data_dir, extra=(), env=None, metrics_flag=True):
        """`metrics_flag`: whether the binary takes `--metrics-listen`
        (commits before it do not); it gets a free port unless `extra`
        turns it off."""
        self.data_dir = pathlib.Path(data_dir)
        extra = list(extra)
        if metrics_flag and "--metrics-listen" not in extra:
            extra += ["--metrics-listen", "127.0.0.1:0"]
        metrics_on = metrics_flag and extra[extra.index("--metrics-listen") + 1] != "off"
        super().__init__(
            [binary, "serve", "--data-dir", data_dir, "--listen", "127.0.0.1:0",
             "--admin-listen", "127.0.0.1:0", *extra],
            r"listening on http://(\S+)",
            env=env,
            wait=False,
        )
        self.wait_for_addresses(3 if metrics_on else 2)
        self.token = (self.data_dir / "admin-token").read_text().strip()

    def deploy(self, component, app):
        request = urllib.request.Request(
            f"http://{self.addresses[1]}/v1/apps/{app}/deployments",
            data=pathlib.Path(component).read_bytes(),
            headers={"Authorization": f"Bearer {self.token}"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=600) as response:
            return json.load(response)


def scrape_every_second(address, stop):
    """GETs /metrics from `address` every second until `stop` is set."""
    while not stop.wait(1):
        with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as response:
            response.read()


def wasmtime_serve(component, cache=False):
    return Server(
        [TOOLS / "bin/wasmtime", "serve", "-O", "pooling-allocator=y", "-S", "cli=y",
         "-C", f"cache={'y' if cache else 'n'}", "--addr", "127.0.0.1:0", component],
        r"Serving HTTP on http://(\S+?)/",
    )


def get(address, path="/", host=None, timeout=600):
    """One GET on a fresh connection; returns (status, seconds to the end of
    the response head)."""
    hostname, port = address.rsplit(":", 1)
    start = time.perf_counter()
    with socket.create_connection((hostname, int(port)), timeout=timeout) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host or address}\r\nConnection: close\r\n\r\n".encode())
        head = b""
        while b"\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
    elapsed = time.perf_counter() - start
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return status, elapsed


# ---------------------------------------------------------------- load


def spin(address):
    """Sends busy-loop one request and waits for whatever ends it."""
    try:
        get(address, host="busy.localhost")
    except OSError:
        pass


def first_request(node):
    """Waits until `node` routes app.localhost (404 until then), and returns
    the time to the response head of the first request that reached the app."""
    while True:
        status, elapsed = get(node.addresses[0], host="app.localhost")
        if status != 404:
            return elapsed
        time.sleep(0.001)


def oha(url, seconds=None, connections=16, host=None, requests=None, rate=None,
        body=None):
    cmd = ["taskset", "-c", LOAD_CPU, TOOLS / "bin/oha", "--no-tui", "--output-format", "json",
           "-c", str(connections)]
    cmd += ["-z", f"{seconds}s"] if seconds else ["-n", str(requests)]
    if host:
        cmd += ["-H", f"Host: {host}"]
    if rate:
        cmd += ["-q", str(rate), "--latency-correction"]
    if body:
        cmd += ["-m", "POST", "-D", body]
    out = subprocess.run(cmd + [url], check=True, capture_output=True, text=True).stdout
    data = json.loads(out)
    codes = data.get("statusCodeDistribution", {})
    bad = {code: n for code, n in codes.items() if code != "200"}
    if bad or not codes:
        raise RuntimeError(f"{url}: responses other than 200: {codes}")
    return data


def throughput(url, seconds, connections, host=None, body=None):
    oha(url, seconds=max(1, seconds // 5), connections=connections, host=host, body=body)
    return oha(url, seconds=seconds, connections=connections, host=host, body=body)["summary"]["requestsPerSec"]


def median(values):
    return statistics.median(values)


# ---------------------------------------------------------------- workloads


class Bench:
    def __init__(self, args, wharf_bin, native_bin, workdir):
        self.args = args
        self.wharf_bin = wharf_bin
        self.native_bin = native_bin
        self.workdir = pathlib.Path(workdir)
        self.sections = []
        self.targets = []
        self.seconds = 2 if args.smoke else 8
        self.rounds = 1 if args.smoke else 3

    def data_dir(self, name):
        path = self.workdir / name
        path.mkdir()
        return path

    def start(self, name, component, tag):
        """Starts one contender serving `component`; returns it and the Host
        header its requests need (None: any)."""
        if name == "wharf":
            server = Wharf(self.wharf_bin, self.data_dir(tag))
            server.deploy(component, "app")
            return server, "app.localhost"
        if name == "wasmtime serve":
            return wasmtime_serve(component), None
        return Server([self.native_bin], r"listening on http://(\S+)"), None

    def section(self, title, text):
        self.sections.append(f"## {title}\n\n{text}\n")
        log(f"done: {title}")

    def target(self, measure, target, value, ok):
        self.targets.append((measure, target, value, "met" if ok else "**missed**"))

    def hello_throughput(self):
        hello = TARGET / "guests/hello.wasm"
        rows = []
        for connections in ([16] if self.args.smoke else [1, 16, 64, 256]):
            results = {"wharf": [], "wasmtime serve": [], "native hyper": []}
            for _ in range(self.rounds):
                wharf = Wharf(self.wharf_bin, self.data_dir(f"rps-{connections}-{len(results['wharf'])}"))
                wharf.deploy(hello, "hello")
                results["wharf"].append(throughput(wharf.url, self.seconds, connections, host="hello.localhost"))
                wharf.stop()
                ws = wasmtime_serve(hello)
                results["wasmtime serve"].append(throughput(ws.url, self.seconds, connections))
                ws.stop()
                native = Server([self.native_bin], r"listening on http://(\S+)")
                results["native hyper"].append(throughput(native.url, self.seconds, connections))
                native.stop()
            m = {name: median(values) for name, values in results.items()}
            rows.append((connections, m, results))
        table = ["| connections | wharf req/s | wasmtime serve req/s | native hyper req/s | wharf / wasmtime | wharf / native |",
                 "|---|---|---|---|---|---|"]
        for connections, m, _ in rows:
            table.append(
                f"| {connections} | {m['wharf']:.0f} | {m['wasmtime serve']:.0f} | {m['native hyper']:.0f} "
                f"| {m['wharf'] / m['wasmtime serve']:.2f} | {m['wharf'] / m['native hyper']:.2f} |"
            )
        raw = "\n".join(
            f"- {c} connections: " + "; ".join(f"{name} {[round(v) for v in values]}" for name, values in r.items())
            for c, _, r in rows
        )
        self.section(
            "hello throughput (keep-alive)",
            f"Medians of {self.rounds} interleaved rounds of {self.seconds} s each, after a warm-up. "
            f"wharf is `wharf serve` with the component deployed (Host routing, registry), "
            f"`wasmtime serve -O pooling-allocator=y -S cli=y`, and `bench/native-hello`.\n\n"
            + "\n".join(table) + "\n\nEvery round:\n\n" + raw,
        )
        m16 = next(m for c, m, _ in rows if c == 16)
        ratio = m16["wharf"] / m16["wasmtime serve"]
        self.target("warm `hello` throughput, 16 connections", "≥ 1.5× wasmtime serve",
                    f"{ratio:.2f}× ({m16['wharf']:.0f} vs {m16['wasmtime serve']:.0f} req/s)", ratio >= 1.5)
        native_ratio = m16["wharf"] / m16["native hyper"]
        self.target("warm `hello` throughput (stretch)", "≥ 0.25× native hyper",
                    f"{native_ratio:.2f}×", native_ratio >= 0.25)
        return m16

    def hello_against(self, baseline_bin, rev):
        """Warm `hello` under `wharf serve`, this tree against the binary of
        commit `rev`, in interleaved rounds (the order alternates)."""
        hello = TARGET / "guests/hello.wasm"
        rounds = 1 if self.args.smoke else 7
        contenders = [("this tree", self.wharf_bin), (rev, baseline_bin)]
        results = {name: [] for name, _ in contenders}
        for i in range(rounds):
            for name, binary in (contenders if i % 2 == 0 else contenders[::-1]):
                # The baseline may predate --metrics-listen.
                server = Wharf(binary, self.data_dir(f"ab-{i}-{len(results[name])}-{name[:8]}"),
                               metrics_flag=binary == self.wharf_bin)
                server.deploy(hello, "hello")
                results[name].append(throughput(server.url, self.seconds, 16, host="hello.localhost"))
                server.stop()
        m = {name: median(values) for name, values in results.items()}
        ratio = m["this tree"] / m[rev]
        raw = "\n".join(f"- {name}: {[round(v) for v in values]}" for name, values in results.items())
        self.section(
            f"hello: this tree against {rev}",
            f"Medians of {rounds} interleaved rounds of {self.seconds} s each at 16 connections, "
            f"after a warm-up, `wharf serve` with `hello` deployed.\n\n"
            f"| this tree req/s | {rev} req/s | ratio |\n|---|---|---|\n"
            f"| {m['this tree']:.0f} | {m[rev]:.0f} | {ratio:.3f} |\n\nEvery round:\n\n{raw}",
        )
        self.target(f"warm `hello`, this tree against {rev}", "no loss (≥ 0.97×, the noise)",
                    f"{ratio:.3f}×", ratio >= 0.97)

    def latency(self, m16):
        hello = TARGET / "guests/hello.wasm"
        rows = []
        p99s = {}
        for name in ["wharf", "wasmtime serve", "native hyper"]:
            rate = max(1, int(m16[name] / 2))
            server, host = self.start(name, hello, "latency")
            oha(server.url, seconds=1, connections=16, host=host)
            data = oha(server.url, seconds=self.seconds, connections=16, host=host, rate=rate)
            server.stop()
            p = data["latencyPercentiles"]
            p99s[name] = p["p99"]
            rows.append(f"| {name} | {rate} | {p['p50'] * 1e3:.3f} | {p['p99'] * 1e3:.3f} | {p['p99.9'] * 1e3:.3f} |")
        self.section(
            "latency at 50% of the measured maximum rate",
            "Open loop: `oha -q RATE --latency-correction`, 16 connections, the rate being half of "
            "each server's own median maximum at 16 connections.\n\n"
            "| server | rate (req/s) | p50 ms | p99 ms | p99.9 ms |\n|---|---|---|---|---|\n" + "\n".join(rows),
        )
        self.target("p99 latency at 50% of max load", "≤ 1 ms",
                    f"{p99s['wharf'] * 1e3:.3f} ms", p99s["wharf"] <= 0.001)

    def echo_and_cpu(self):
        echo = TARGET / "guests/echo.wasm"
        cpu = TARGET / "guests/cpu.wasm"
        body = self.workdir / "body-64k"
        body.write_bytes(os.urandom(64 * 1024))
        rows = []
        for label, component, path, post, native_ok in [
            ("64 KiB POST echo", echo, "/", body, True),
            ("CPU-bound handler (~1 ms)", cpu, "/", None, False),
        ]:
            results = {"wharf": [], "wharf winch": [], "wasmtime serve": [], "native hyper": []}
            for round_ in range(self.rounds):
                for name, extra in [("wharf", []), ("wharf winch", ["--compiler", "winch"])]:
                    wharf = Wharf(self.wharf_bin, self.data_dir(f"{component.stem}-{name[-5:]}-{round_}"), extra)
                    wharf.deploy(component, "app")
                    results[name].append(throughput(wharf.url.rstrip("/") + path, self.seconds, 16, host="app.localhost", body=post))
                    wharf.stop()
                ws = wasmtime_serve(component)
                results["wasmtime serve"].append(throughput(ws.url.rstrip("/") + path, self.seconds, 16, body=post))
                ws.stop()
                if native_ok:
                    native = Server([self.native_bin], r"listening on http://(\S+)")
                    results["native hyper"].append(throughput(native.url + "echo", self.seconds, 16, body=post))
                    native.stop()
            m = {name: median(values) if values else None for name, values in results.items()}
            native = f"{m['native hyper']:.0f}" if m["native hyper"] else "n/a"
            rows.append(f"| {label} | {m['wharf']:.0f} | {m['wharf winch']:.0f} | {m['wasmtime serve']:.0f} | {native} "
                        f"| {m['wharf'] / m['wasmtime serve']:.2f} | {m['wharf winch'] / m['wharf']:.2f} |")
        status, elapsed = self.single_request_time(cpu)
        self.section(
            "echo and CPU-bound handlers",
            f"Medians of {self.rounds} interleaved rounds, 16 connections. `guests/cpu` takes "
            f"{elapsed * 1e3:.2f} ms for one request under `wharf run` (median of 20, including HTTP). "
            "*wharf winch* is `wharf serve --compiler winch`: the code `--compiler auto` serves "
            "a new component with until Cranelift's is ready.\n\n"
            "| workload | wharf req/s | wharf winch req/s | wasmtime serve req/s | native hyper req/s | wharf / wasmtime | winch / cranelift |\n"
            "|---|---|---|---|---|---|---|\n" + "\n".join(rows),
        )

    def single_request_time(self, component):
        # Cranelift's code, as `wharf serve` runs it once compiled, from a
        # cache directory of this run's own.
        server = Server([self.wharf_bin, "run", component, "--listen", "127.0.0.1:0",
                         "--compiler", "cranelift", "--cache-dir", self.workdir / "cpu-run-cache"],
                        r"listening on http://(\S+)")
        times = []
        for _ in range(21):
            status, elapsed = get(server.addresses[0])
            times.append(elapsed)
        server.stop()
        return status, median(times[1:])

    def cold_starts(self):
        small = TARGET / "guests/hello.wasm"
        js = js_component(self.workdir)
        components = [("small Rust `hello`", small), ("13 MB JavaScript", js)]
        if self.args.smoke:
            # A debug build compiles 13 MB for minutes; smoke mode only
            # checks that the JavaScript component builds.
            components = components[:1]
        rows = []
        figures = {}
        for label, component in components:
            size = component.stat().st_size
            # wasmtime serve: start to first response, compile cache off.
            ws_cold = self.start_to_first_byte(lambda: wasmtime_serve(component))
            # wharf: a never-seen digest served by nodes that did not take
            # the deploy (they compile on the first request, or load sealed
            # code from the store), then a node restarted with its
            # compiled-code cache on disk.
            cold = self.wharf_cold(component)
            figures[label] = (cold["auto"], cold["restart"], cold["restart_process"], ws_cold, cold["after_deploy"])
            rows.append(
                f"| {label} ({size / 1e6:.1f} MB) | {cold['auto'] * 1e3:.1f} | {cold['cranelift'] * 1e3:.1f} | "
                f"{cold['shared'] * 1e3:.1f} | {cold['restart'] * 1e3:.2f} | {cold['restart_process'] * 1e3:.1f} | "
                f"{cold['after_deploy'] * 1e3:.2f} | {ws_cold * 1e3:.1f} | {cold['switch']:.2f} |"
            )
        self.section(
            "cold starts",
            "- *wharf, never-seen digest*: another `wharf serve` on the same registry and store, "
            "which did not take the deploy, answers its first request for the app; that request "
            "fetches, compiles and instantiates. Time to the response head. With `--compiler auto` "
            "(the default) it compiles with Winch and then with Cranelift in the background; "
            "*switch s* is how long after the first response that server swapped in the Cranelift "
            "code. With `--compiler cranelift` it compiles with Cranelift only.\n"
            "- *wharf, sealed code*: the node that took the deploy and this one share "
            "`--artifact-secret-file`, so this one loads the code the first sealed into the store.\n"
            "- *wharf, restarted*: the auto node restarted with its compiled-code cache on disk. "
            "*first request* is that request's time to the response head, as for never-seen digests; "
            "*from process start* adds starting the process, opening the registry and listening.\n"
            "- *wharf, after deploy*: the first request on the node that took the deploy.\n"
            "- *wasmtime serve*: process start to the first response head, compile cache off.\n"
            "- wharf's figures for the small component are medians over five fresh nodes (and five "
            "restarts); the JavaScript component's are from one node each.\n\n"
            "| component | wharf never-seen, auto ms | wharf never-seen, cranelift ms | wharf never-seen, sealed code ms "
            "| wharf restarted, first request ms | wharf restarted, from process start ms "
            "| wharf first request after deploy ms | wasmtime serve cold ms | switch s |\n"
            "|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows),
        )
        first, restart, restart_process, ws_cold, after = figures["small Rust `hello`"]
        self.target("never-seen small component, time to first byte", "≤ 25 ms", f"{first * 1e3:.1f} ms", first <= 0.025)
        self.target("small component, disk-cached after restart", "≤ 3 ms",
                    f"{restart * 1e3:.2f} ms ({restart_process * 1e3:.1f} ms from process start)", restart <= 0.003)
        if "13 MB JavaScript" not in figures:
            return
        first, restart, restart_process, ws_cold, after_js = figures["13 MB JavaScript"]
        self.target("never-seen 13 MB JS component", "≤ 0.25× wasmtime serve",
                    f"{first / ws_cold:.2f}× ({first:.2f} s vs {ws_cold:.2f} s)", first <= 0.25 * ws_cold)
        self.target("13 MB JS component, disk-cached", "≤ 50 ms",
                    f"{restart * 1e3:.2f} ms ({restart_process * 1e3:.1f} ms from process start)", restart <= 0.050)
        self.target("first request after a deploy, on the node that took it", "warm: no compile",
                    f"{after * 1e3:.2f} ms small, {after_js * 1e3:.2f} ms JS", after < 0.025 and after_js < 0.1)

    def python_cold(self):
        """Never-seen first answers for the Python component (CPython built
        by componentize-py, about 20 MB) under `wharf run`, `wharf serve`
        and `wasmtime serve`, each from process start (or, for a serve node,
        from its first request) to the first response head."""
        component = TARGET / "guests/python-http.wasm"
        size = component.stat().st_size
        ws_cold = self.start_to_first_byte(lambda: wasmtime_serve(component))
        cache_dir = self.data_dir("python-run-cache")
        run = lambda: Server([self.wharf_bin, "run", component, "--listen", "127.0.0.1:0",
                              "--cache-dir", cache_dir], r"listening on http://(\S+)")
        # Never seen: an empty cache directory. The server is kept until
        # its background compile has saved the code to keep.
        began = time.perf_counter()
        server = run()
        while get(server.addresses[0])[0] != 200:
            time.sleep(0.001)
        run_cold = time.perf_counter() - began
        while not any(cache_dir.glob("*.cwasm")):
            time.sleep(0.01)
        run_switch = time.perf_counter() - began
        server.stop()
        run_cached = self.start_to_first_byte(run)
        # wharf serve: a node that did not take the deploy, on the same
        # registry and store, answers its first request for the app.
        a_dir = self.data_dir("python-a")
        a = Wharf(self.wharf_bin, a_dir)
        a.deploy(component, "app")
        node = Wharf(self.wharf_bin, self.data_dir("python-b"),
                     ["--db", f"sqlite://{a_dir}/registry.db", "--store", f"{a_dir}/blobs",
                      "--poll-interval", "20ms"])
        serve_cold = first_request(node)
        node.stop()
        a.stop()
        self.section(
            "Python cold starts",
            f"`guests/python-http` ({size / 1e6:.1f} MB), built with componentize-py. One sample each.\n\n"
            "- *wharf run, never seen*: `wharf run` with an empty `--cache-dir`, process start to the "
            "first response head (a Winch compile); *optimized after* is when Cranelift's code was saved, "
            "from process start.\n"
            "- *wharf run, cached*: the same again, with the code saved by the first run.\n"
            "- *wharf serve, never seen*: the first request on a node that did not take the deploy.\n"
            "- *wasmtime serve*: process start to the first response head, compile cache off.\n\n"
            "| wharf run never seen ms | wharf run optimized after s | wharf run cached ms "
            "| wharf serve never seen ms | wasmtime serve ms | wharf run / wasmtime serve |\n"
            "|---|---|---|---|---|---|\n"
            f"| {run_cold * 1e3:.0f} | {run_switch:.2f} | {run_cached * 1e3:.0f} | {serve_cold * 1e3:.0f} "
            f"| {ws_cold * 1e3:.0f} | {run_cold / ws_cold:.2f} |",
        )

    def start_to_first_byte(self, start):
        began = time.perf_counter()
        server = start()
        while True:
            try:
                status, _ = get(server.addresses[0])
                if status == 200:
                    break
            except OSError:
                time.sleep(0.001)
        elapsed = time.perf_counter() - began
        server.stop()
        return elapsed

    def wharf_cold(self, component):
        """Cold starts of `component` on wharf nodes sharing node A's
        registry and store; returns seconds by case, each the median over
        fresh nodes (five for a small component, one for a large one)."""
        name = component.stem
        samples = 1 if self.args.smoke or component.stat().st_size > 1e6 else 5
        a_dir = self.data_dir(f"cold-a-{name}")
        secret = self.workdir / "artifact-secret"
        secret.write_text(os.urandom(32).hex())
        sharing = ["--artifact-secret-file", str(secret)]
        shared = ["--db", f"sqlite://{a_dir}/registry.db", "--store", f"{a_dir}/blobs",
                  "--poll-interval", "20ms"]
        a = Wharf(self.wharf_bin, a_dir, sharing)
        a.deploy(component, "app")
        times = {"after_deploy": get(a.addresses[0], host="app.localhost")[1]}
        # A seals the compiled code into the store after the deploy answers.
        sealed = a_dir / "blobs/compiled"
        while not any(sealed.glob("*/*.cwasm")):
            time.sleep(0.01)
        samples_of = {}
        auto_dir = None
        for case, extra in [("auto", []), ("cranelift", ["--compiler", "cranelift"]), ("shared", sharing)]:
            for sample in range(samples):
                node_dir = self.data_dir(f"cold-{case}-{name}-{sample}")
                node = Wharf(self.wharf_bin, node_dir, shared + extra)
                samples_of.setdefault(case, []).append(first_request(node))
                answered = time.perf_counter()
                if case == "auto":
                    auto_dir = node_dir
                    # It saves Cranelift's code once the background compile
                    # is done, just before switching to it.
                    while not any((node_dir / "compiled").glob("*.cwasm")):
                        time.sleep(0.005)
                    samples_of.setdefault("switch", []).append(time.perf_counter() - answered)
                node.stop()
        for sample in range(samples):
            began = time.perf_counter()
            restarted = Wharf(self.wharf_bin, auto_dir, shared)
            samples_of.setdefault("restart", []).append(first_request(restarted))
            samples_of.setdefault("restart_process", []).append(time.perf_counter() - began)
            restarted.stop()
        a.stop()
        times.update((case, median(values)) for case, values in samples_of.items())
        return times

    def warm_during_compile(self):
        """Warm `hello` throughput on a node while it recompiles a big
        component in the background, against the same node idle."""
        hello = TARGET / "guests/hello.wasm"
        # A debug build compiles 13 MB for minutes; smoke mode recompiles
        # another copy of hello instead.
        big = variant(hello, 0, self.workdir) if self.args.smoke else js_component(self.workdir)
        a_dir = self.data_dir("busy-a")
        deployer = Wharf(self.wharf_bin, a_dir)
        deployer.deploy(hello, "hello")
        deployer.deploy(big, "big")
        deployer.stop()
        shared = ["--db", f"sqlite://{a_dir}/registry.db", "--store", f"{a_dir}/blobs"]
        rows, ratios = [], []
        for round in range(self.rounds):
            node_dir = self.data_dir(f"busy-{round}")
            node = Wharf(self.wharf_bin, node_dir, shared)
            while get(node.addresses[0], host="hello.localhost")[0] != 200:
                time.sleep(0.005)
            compiled = node_dir / "compiled"
            while not any(compiled.glob("*.cwasm")):
                time.sleep(0.005)
            idle = throughput(node.url, self.seconds, 16, host="hello.localhost")
            status, first = get(node.addresses[0], host="big.localhost")
            if status != 200:
                raise RuntimeError(f"the big component answered {status}")
            busy = throughput(node.url, self.seconds, 16, host="hello.localhost")
            # The big component's Cranelift code lands on disk when its
            # recompile ends.
            still_compiling = len(list(compiled.glob("*.cwasm"))) < 2
            node.stop()
            ratios.append(busy / idle)
            rows.append(f"| {round + 1} | {idle:.0f} | {busy:.0f} | {busy / idle:.2f} | {first:.2f} | "
                        f"{'yes' if still_compiling else 'no'} |")
        self.section(
            "warm requests during a background compile",
            f"A `wharf serve` (`--compiler auto`) serves `hello` warm, at 16 connections, for {self.seconds} s; "
            f"then one request for a never-seen {big.stat().st_size / 1e6:.1f} MB component starts its Cranelift "
            f"recompile in the background, and `hello` is measured again while that runs. "
            f"A fresh node per round. Median ratio: {median(ratios):.2f}.\n\n"
            "| round | hello idle req/s | hello during the compile req/s | ratio | big component's first request s "
            "| still compiling at the end |\n|---|---|---|---|---|---|\n" + "\n".join(rows),
        )

    def many_apps(self):
        hello = TARGET / "guests/hello.wasm"
        apps = 10 if self.args.smoke else 1000
        cache = apps // 10
        server = Wharf(self.wharf_bin, self.data_dir("many"), ["--max-compiled", str(cache)])
        variants = self.workdir / "variants"
        variants.mkdir()
        began = time.perf_counter()
        for i in range(apps):
            server.deploy(variant(hello, i, variants), f"app{i}")
        deploy_time = time.perf_counter() - began
        address = server.addresses[0]
        host, port = address.rsplit(":", 1)
        import http.client

        conn = http.client.HTTPConnection(host, int(port))
        times = []
        passes = 3
        began = time.perf_counter()
        for _ in range(passes):
            for i in range(apps):
                t = time.perf_counter()
                conn.request("GET", "/", headers={"Host": f"app{i}.localhost"})
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    raise RuntimeError(f"app{i}: {response.status}")
                times.append(time.perf_counter() - t)
        total = time.perf_counter() - began
        rss = server.rss_mb()
        server.stop()
        times.sort()
        q = lambda p: times[min(len(times) - 1, int(p * len(times)))] * 1e3
        self.section(
            f"{apps} apps through a cache of {cache}",
            f"{apps} distinct digests (the `hello` component with a custom section each) deployed "
            f"to one `wharf serve --max-compiled {cache}` ({deploy_time:.1f} s to deploy them all), then "
            f"{passes} round-robin passes over every app from one keep-alive connection, so every "
            f"request misses the in-memory cache and loads the compiled code from disk.\n\n"
            f"| requests | req/s | p50 ms | p99 ms | max ms | RSS after, MB |\n|---|---|---|---|---|---|\n"
            f"| {len(times)} | {len(times) / total:.0f} | {q(0.5):.2f} | {q(0.99):.2f} | {times[-1] * 1e3:.2f} | {rss:.1f} |",
        )

    def metrics_cost(self):
        """Warm hello with the metrics listener on (scraped every second)
        against off, and on with the access log written, interleaved."""
        hello = TARGET / "guests/hello.wasm"
        rounds = 1 if self.args.smoke else 7
        contenders = [
            ("metrics off", ["--metrics-listen", "off"], {}),
            ("metrics on", ["--metrics-listen", "127.0.0.1:0"], {}),
            ("metrics on, access log written", ["--metrics-listen", "127.0.0.1:0"], {"WHARF_LOG": "info"}),
        ]
        results = {name: [] for name, _, _ in contenders}
        for i in range(rounds):
            order = contenders if i % 2 == 0 else contenders[::-1]
            for name, extra, env in order:
                which = [c[0] for c in contenders].index(name)
                server = Wharf(self.wharf_bin, self.data_dir(f"metrics-{i}-{which}"), extra, env=env)
                server.deploy(hello, "hello")
                scraping = threading.Event()
                if extra[1] != "off":
                    threading.Thread(target=scrape_every_second, args=(server.addresses[2], scraping),
                                     daemon=True).start()
                results[name].append(throughput(server.url, self.seconds, 16, host="hello.localhost"))
                scraping.set()
                server.stop()
        m = {name: median(values) for name, values in results.items()}
        base = m["metrics off"]
        rows = "\n".join(f"| {name} | {m[name]:.0f} | {m[name] / base:.3f} |" for name, _, _ in contenders)
        raw = "\n".join(f"- {name}: {[round(v) for v in values]}" for name, values in results.items())
        self.section(
            "hello with metrics on and off",
            f"Medians of {rounds} interleaved rounds of {self.seconds} s each at 16 connections, "
            f"`wharf serve` with `hello` deployed. With the metrics listener on, `/metrics` is "
            f"scraped every second during the run. The access log is written only in the last "
            f"row (`WHARF_LOG=info`; the others run at `warn`).\n\n"
            f"| wharf serve | req/s | against metrics off |\n|---|---|---|\n{rows}\n\nEvery round:\n\n{raw}",
        )
        ratio = m["metrics on"] / base
        self.target("warm `hello` with metrics on, against off", "≥ 0.97×", f"{ratio:.3f}×", ratio >= 0.97)

    def busy_neighbours(self):
        """hello's latency while two guests of another app spin on the CPU."""
        hello = TARGET / "guests/hello.wasm"
        busy = TARGET / "guests/busy-loop.wasm"
        # The deadline outlasts the measurement, so the spinning guests run
        # throughout it; stopping the server ends them.
        server = Wharf(self.wharf_bin, self.data_dir("busy"), ["--deadline", "600s", "--grace-period", "1s"])
        server.deploy(hello, "app")
        server.deploy(busy, "busy")
        rate = 200
        measure = lambda: oha(server.url, seconds=self.seconds, connections=4, host="app.localhost",
                              rate=rate)["latencyPercentiles"]
        oha(server.url, seconds=1, connections=4, host="app.localhost")
        idle = measure()
        for _ in range(2):
            threading.Thread(target=spin, args=(server.addresses[0],), daemon=True).start()
        time.sleep(0.5)
        loaded = measure()
        server.stop()
        ratio = loaded["p50"] / idle["p50"]
        self.section(
            "hello beside two spinning guests",
            f"One `wharf serve` with two apps: hello, and busy-loop, whose guest spins until its "
            f"deadline. hello is measured open-loop (`oha -q {rate} -c 4 --latency-correction`, "
            f"{self.seconds} s), first alone, then while two busy-loop requests spin.\n\n"
            "| hello | p50 ms | p99 ms |\n|---|---|---|\n"
            f"| alone | {idle['p50'] * 1e3:.3f} | {idle['p99'] * 1e3:.3f} |\n"
            f"| beside two spinning guests | {loaded['p50'] * 1e3:.3f} | {loaded['p99'] * 1e3:.3f} |\n\n"
            f"p50 ratio: {ratio:.2f}×.",
        )
        self.target("hello p50 beside two spinning guests, against alone", "≤ 2×",
                    f"{ratio:.2f}×", ratio <= 2)

    def memory(self):
        hello = TARGET / "guests/hello.wasm"
        requests = 20_000 if self.args.smoke else 1_000_000
        rows = []
        growth_wharf = None
        for name in ["wharf", "wasmtime serve", "native hyper"]:
            server, host = self.start(name, hello, "rss")
            oha(server.url, requests=1000, connections=16, host=host)
            idle = server.rss_mb()
            oha(server.url, requests=requests, connections=16, host=host)
            after = server.rss_mb()
            server.stop()
            growth = (after - idle) / idle
            if name == "wharf":
                growth_wharf, idle_wharf = growth, idle
            rows.append(f"| {name} | {idle:.1f} | {after:.1f} | {growth * 100:+.1f}% |")
        self.section(
            "memory",
            f"RSS from /proc after 1,000 warm-up requests (idle) and after {requests:,} more at 16 connections.\n\n"
            "| server | idle RSS MB | RSS after MB | growth |\n|---|---|---|---|\n" + "\n".join(rows),
        )
        self.target("idle RSS", "≤ 60 MB", f"{idle_wharf:.1f} MB", idle_wharf <= 60)
        self.target(f"RSS growth over {requests:,} requests", "≤ 10%", f"{growth_wharf * 100:+.1f}%", growth_wharf <= 0.10)

    def report(self, command):
        meminfo = pathlib.Path("/proc/meminfo").read_text()
        mem_gib = round(int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1)) / 1048576)
        machine = (
            f"{os.cpu_count()} CPUs ({cpu_model()}), {mem_gib} GiB, "
            f"{platform.system()} {platform.release()}"
        )
        targets = "| measure | target | wharf | |\n|---|---|---|---|\n" + "\n".join(
            f"| {m} | {t} | {v} | {ok} |" for m, t, v, ok in self.targets
        )
        return (
            "# wharf benchmark results\n\n"
            f"Command: `{command}`, on {time.strftime('%Y-%m-%d')}.\n\n"
            f"Machine: {machine}. Servers pinned to CPU {SERVER_CPU}, oha {OHA_VERSION} to CPU {LOAD_CPU}. "
            f"wasmtime-cli {WASMTIME_VERSION}, the version wharf embeds. Servers run without RUST_BACKTRACE. "
            f"{'Smoke mode: debug builds, short runs; these figures mean nothing.' if self.args.smoke else 'Release builds.'}\n\n"
            "These machines are shared and noisy: compare figures from one run only.\n\n"
            "## Targets\n\n" + targets + "\n\n" + "\n".join(self.sections)
        )


def cpu_model():
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="short runs on debug builds")
    parser.add_argument("--out", type=pathlib.Path, help="where to write the report [bench/RESULTS.md]")
    parser.add_argument("--only", choices=["throughput", "hello", "echo-cpu", "cold", "python",
                                           "background-compile", "many-apps", "memory",
                                           "busy-neighbours", "metrics"],
                        help="run one workload (the report then holds only it; it goes to --out, "
                             "or target/bench/only-WORKLOAD.md)")
    parser.add_argument("--against", metavar="REV",
                        help="with --only hello: the commit to compare this tree with")
    args = parser.parse_args()
    if (args.only == "hello") != bool(args.against):
        sys.exit("bench: --only hello needs --against REV, and --against goes only with --only hello")
    out = args.out or (ROOT / "bench/RESULTS.md")
    if args.smoke and not args.out:
        out = TARGET / "bench/smoke-results.md"
    if args.only and not args.out:
        out = TARGET / f"bench/only-{args.only}.md"
    if not shutil.which("taskset"):
        sys.exit("bench: taskset is missing (util-linux)")
    install_tools()
    profile = "debug" if args.smoke else "release"
    command = "bench/run.py" + (" --smoke" if args.smoke else "") + (f" --only {args.only}" if args.only else "")
    command += f" --against {args.against}" if args.against else ""
    with tempfile.TemporaryDirectory(prefix="wharf-bench-") as workdir:
        baseline_bin = build_baseline(args.against, profile, workdir) if args.against else None
        wharf_bin, native_bin = build(profile)
        bench = Bench(args, wharf_bin, native_bin, workdir)
        wanted = lambda workload: args.only in (None, workload)
        if wanted("throughput"):
            m16 = bench.hello_throughput()
            bench.latency(m16)
        if args.only == "hello":
            bench.hello_against(baseline_bin, args.against)
        if wanted("echo-cpu"):
            bench.echo_and_cpu()
        if wanted("cold"):
            bench.cold_starts()
        if wanted("python"):
            bench.python_cold()
        if wanted("background-compile"):
            bench.warm_during_compile()
        if wanted("many-apps"):
            bench.many_apps()
        if wanted("memory"):
            bench.memory()
        if wanted("busy-neighbours"):
            bench.busy_neighbours()
        if wanted("metrics"):
            bench.metrics_cost()
        report = bench.report(command)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    print(report)
    log(f"wrote {out}")


if __name__ == "__main__":
    main()
