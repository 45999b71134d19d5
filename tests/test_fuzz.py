"""Robustness: no input makes segc crash.

Random text over a .seg-ish alphabet, valid programs with random edits (of
characters, tokens and lines), arbitrary Unicode and arbitrary bytes all go to
the library entry point ``compile_paths``. Each run must either compile or
report at least one error, and every diagnostic must point inside the text it
names. A few dozen mutated files also go through the real CLI in a subprocess:
exit 0 or 1, never a traceback.

The number of examples comes from the hypothesis profile (tests/conftest.py).
"""

from __future__ import annotations

import glob
import json
import os
import random
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from segc.compile import compile_paths

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAME = "fuzz.seg"

HAND_WRITTEN = [
    """# the core of the brief
namespace app
deny-all
deny-all in tenant-a
deny-all ingress in data
allow dns
allow frontend -> backend:8080/tcp
allow frontend -> backend:8080,8443/tcp
allow frontend -> backend:8000-8100/tcp
allow frontend -> backend:http
allow frontend -> backend
allow web/frontend -> data/postgres:5432
allow {team=orders}/orders-api -> data/postgres:5432
allow */prometheus -> backend:9090
allow frontend -> {tier=api, env!=dev}:8080
allow api -> 203.0.113.10/32:443/tcp
allow api -> 10.0.0.0/8 except 10.1.0.0/16:443
allow 192.0.2.0/24 -> frontend:443
group payments = {tier in (api, worker), team=payments}
allow payments -> data/postgres:5432
""",
    """namespace shop
deny-all egress
service db = {app=postgres}:5432
group web = {tier=web, !canary, env notin (dev, test)}
allow web -> db
allow web -> internet:443
allow kube-prometheus -> web:metrics
allow */* -> web:80/tcp,443
allow fd00::/8 except fd00:1::/32 -> web:53/udp,53/tcp
allow {x == "", y}/* -> *:1-65535/sctp
""",
    "namespace a\r\nallow b -> c:80\r\n\tallow\t* -> {k=v}\n",
    'import "other.seg"\nnamespace a\nallow x\n',
]


def _seeds() -> list[str]:
    seeds = list(HAND_WRITTEN)
    paths = sorted(glob.glob(os.path.join(ROOT, "examples", "**", "*.seg"), recursive=True))
    paths += sorted(glob.glob(os.path.join(ROOT, "tests", "data", "*.seg")))
    for p in paths:
        with open(p, encoding="utf-8") as fh:
            seeds.append(fh.read())
    return seeds


SEEDS = _seeds()

TOKENS = [
    "namespace", "deny-all", "allow", "group", "service", "import", "in", "ingress", "egress", "except", "notin",
    "->", "/", ":", ",", "{", "}", "(", ")", "=", "==", "!=", "!", "*", "#", '"', " ", " ", "\t", "\n", "\n", "\r\n",
    "app", "web", "a", "x-y", "k8s-app", "example.com/role", "dns", "internet", "kube-system",
    "10.0.0.0/8", "10.0.0.1/8", "0.0.0.0/0", "::/0", "fd00::/8", "2001:db8::1/128", "999.1.1.1/8", "1.2.3/4",
    "80", "0", "65536", "8000-8100", "9-8", "http", "metrics", "tcp", "udp", "sctp", "icmp", "-", "_", ".",
    "é", "\u2028", "\f", "\x00", "\ufeff", "\\", "'",
]
CHARS = "abcdefghijklmnopqrstuvwxyzA-Z0123456789 \t\n\r{}()[]<>=!*/:,.#\"'-_@$%^&|~`;?+\\é\x00\u2028\x0c"

seg_soup = st.lists(st.sampled_from(TOKENS) | st.sampled_from(list(CHARS)), max_size=80).map("".join)


@st.composite
def mutated(draw) -> str:
    """A valid program after 1 to 8 random edits."""
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["insert", "insert-token", "delete", "swap", "replace-token", "dup-line", "drop-line", "swap-lines", "truncate"]))
        n = len(text)
        if kind in ("insert", "insert-token"):
            at = draw(st.integers(0, n))
            piece = draw(st.sampled_from(list(CHARS))) if kind == "insert" else draw(st.sampled_from(TOKENS))
            text = text[:at] + piece + text[at:]
        elif kind == "delete" and n:
            at = draw(st.integers(0, n - 1))
            text = text[:at] + text[at + draw(st.integers(1, 6)) :]
        elif kind == "swap" and n >= 2:
            i, j = sorted(draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=2, unique=True)))
            text = text[:i] + text[j] + text[i + 1 : j] + text[i] + text[j + 1 :]
        elif kind == "replace-token":
            words = text.split(" ")
            i = draw(st.integers(0, len(words) - 1))
            words[i] = draw(st.sampled_from(TOKENS))
            text = " ".join(words)
        elif kind in ("dup-line", "drop-line", "swap-lines"):
            lines = text.split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            j = draw(st.integers(0, len(lines) - 1))
            if kind == "dup-line":
                lines.insert(j, lines[i])
            elif kind == "drop-line":
                del lines[i]
            else:
                lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
        elif kind == "truncate":
            text = text[: draw(st.integers(0, n))]
    return text


def check_never_crashes(source: str | bytes) -> None:
    """Compile ``source``; it compiles or has errors, all pointing inside their text."""
    result = compile_paths([NAME], {NAME: source})
    errors = [d for d in result.diagnostics if d.severity == "error"]
    if result.policies is None:
        assert errors, "no policies and no error"
    else:
        assert not errors, errors
        assert isinstance(result.policies, list)
    for d in result.diagnostics:
        assert d.severity in ("error", "warning"), d
        assert d.code.startswith("SEG") and d.message, d
        assert d.span.file in result.texts, d
        lines = result.texts[d.span.file].split("\n")
        assert 1 <= d.span.line <= len(lines), (d, len(lines))
        assert 1 <= d.span.column <= len(lines[d.span.line - 1]) + 1, (d, lines[d.span.line - 1])


@given(seg_soup)
@example("allow a ->")
@example("namespace a\rallow b\n")
@example("namespace a\n#\u2028\nallow {")
@example("allow {")
@example("")
def test_seg_soup(text):
    check_never_crashes(text)


@given(mutated())
def test_mutated_programs(text):
    check_never_crashes(text)


@given(st.text(max_size=200))
def test_any_unicode(text):
    check_never_crashes(text)


@given(st.binary(max_size=200))
@example(b"\xef\xbb\xbfnamespace a\n")
@example(b"namespace a\n\xff")
@example(b"\xef\xbb\xbf\xc3")
def test_any_bytes(data):
    check_never_crashes(data)


@given(st.lists(st.sampled_from(SEEDS[:2]) | mutated(), min_size=1, max_size=4))
def test_several_lines_of_mutants(parts):
    # Several mutants in one file: errors in one part never hide or break another.
    check_never_crashes("\n".join(parts))


@pytest.mark.parametrize("text", SEEDS)
def test_seeds(text):
    check_never_crashes(text)


# ------------------------------------------------------------- the real CLI


def _mutants(count: int, seed: int = 20240501) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        text = rng.choice(SEEDS)
        for _ in range(rng.randint(1, 6)):
            at = rng.randint(0, len(text))
            op = rng.random()
            if op < 0.4:
                text = text[:at] + rng.choice(TOKENS) + text[at:]
            elif op < 0.7:
                text = text[:at] + text[at + rng.randint(1, 8) :]
            elif op < 0.9 and len(text) > 1:
                j = rng.randrange(len(text))
                a, b = sorted((min(at, len(text) - 1), j))
                text = text[:a] + text[b] + text[a + 1 : b] + text[a] + text[b + 1 :] if a != b else text
            else:
                text = text[:at]
        data = text.encode("utf-8", errors="surrogatepass")
        if i % 10 == 9:  # now and then, bytes that are not UTF-8
            cut = rng.randint(0, len(data))
            data = data[:cut] + bytes([rng.randint(0x80, 0xFF)]) + data[cut:]
        out.append(data)
    return out


def _segc_command() -> list[str]:
    """The installed `segc` script next to this Python, else the same entry point."""
    script = shutil.which("segc", path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, "-c", "from segc.cli import main; main()"]


def _segc(*args: str, cwd: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*_segc_command(), *args], cwd=cwd, input=stdin, capture_output=True, timeout=60)


def test_cli_on_mutated_files(tmp_path):
    files = []
    for i, data in enumerate(_mutants(36)):
        path = tmp_path / f"m{i:02d}.seg"
        path.write_bytes(data)
        files.append(path.name)

    def run(i_name):
        i, name = i_name
        args = ("check", "--format", "json", name) if i % 3 == 0 else ("build", name, "-o", "-") if i % 3 == 1 else ("check", name)
        return name, args, _segc(*args, cwd=str(tmp_path))

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        runs = list(pool.map(run, enumerate(files)))
    codes = set()
    for name, args, proc in runs:
        stderr = proc.stderr.decode("utf-8", errors="replace")
        source = (tmp_path / name).read_bytes()
        assert "Traceback" not in stderr, (args, source, stderr)
        assert proc.returncode in (0, 1), (args, source, proc.returncode, stderr)
        codes.add(proc.returncode)
        if proc.returncode == 1 and "json" in args:
            diags = json.loads(proc.stdout)
            assert any(d["severity"] == "error" and d["file"] == name for d in diags), (args, diags)
        elif proc.returncode == 1:
            assert f"{name}:" in stderr, (args, stderr)
    assert 1 in codes  # the mutations do break programs


def test_cli_on_random_bytes_from_stdin(tmp_path):
    rng = random.Random(7)
    for size in (0, 1, 17, 300):
        data = bytes(rng.randrange(256) for _ in range(size))
        proc = _segc("check", "-", cwd=str(tmp_path), stdin=data)
        assert b"Traceback" not in proc.stderr, (data, proc.stderr)
        assert proc.returncode in (0, 1), (data, proc.returncode)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
