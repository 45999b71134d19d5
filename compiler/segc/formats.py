"""Diagnostics for CI: SARIF 2.1.0 (GitHub code scanning) and GitHub workflow commands.

Beside ``render_text`` and ``render_json`` (diagnostics.py). Paths are written
relative to ``base`` (the working directory by default), with ``/``, as code
scanning and the annotations of a pull request expect; a diagnostic without a
file or line (line 0) is reported without a location.
"""

from __future__ import annotations

import json
import os

from . import __version__
from .diagnostics import ERROR, Diagnostic, _unique

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/segc/segc"

# What each code is about, for the rule list of a SARIF run.
RULES = {
    "SEG001": "Syntax error",
    "SEG010": "Invalid address block",
    "SEG011": "except block of another IP version",
    "SEG012": "except block outside its block",
    "SEG020": "Invalid label key",
    "SEG021": "Invalid label value",
    "SEG022": "Invalid namespace name",
    "SEG030": "Port outside 1-65535",
    "SEG031": "Reversed port range",
    "SEG032": "Unknown protocol",
    "SEG033": "Invalid port name",
    "SEG040": "Group defined twice",
    "SEG041": "No current namespace",
    "SEG043": "Group defined in terms of itself",
    "SEG044": "Bare name one typo away from a group",
    "SEG050": "Import cycle",
    "SEG051": "File cannot be read",
    "SEG060": "Destination namespaces by label that segc cannot decide",
    "SEG061": "Source namespaces by label that segc cannot decide",
    "SEG070": "Port range too long for the Kubernetes version",
    "SEG071": "Manifest rejected by the Kubernetes schema",
    "SEG072": "Manifest rejected by the API server's own checks",
    "SEG080": "Deny between two address blocks",
    "SEG081": "Deny with no managed end to enforce it",
    "SEG082": "Deny that an address-block allow would still let through",
    "SEG083": "Deny of named ports that cannot be subtracted",
    "SEG084": "Deny needing too many selectors",
    "SEG085": "Deny port remainder too long for the Kubernetes version",
    "SEG090": "Expectation does not hold",
    "SEG091": "Expectation checks nothing",
    "SEG092": "Test file changes the program under test",
    "SEG100": "Statement with no effect",
    "SEG101": "Allow covered by another",
    "SEG102": "Egress isolation without DNS",
    "SEG103": "Any source to a database port",
    "SEG104": "Egress to every address",
    "SEG105": "Source every pod of every namespace",
    "SEG106": "Group never used",
    "SEG107": "Name matching no pod of the cluster",
    "SEG108": "Address block covering pods of the cluster",
    "SEG109": "Two policies wanting the same name",
    "SEG140": "Deny with no effect",
    "SEG150": "Expectation netassert cannot express",
    "SEG160": "Selector matching no rendered pod template",
    "SEG161": "Named port not declared by the rendered pods",
    "SEG162": "Rendered resources cannot be read",
    "SEG163": "Resources already hold a policy segc writes",
    "SEG164": "Invalid plugin or function configuration",
    "SEG165": "No rendered workload in a managed namespace",
    "SEG166": "Kustomization would rewrite the generated policies",
    "SEG167": "Foreign NetworkPolicy in a managed namespace",
    "SEG170": "NetworkPolicy input cannot be read",
    "SEG171": "Egress isolation of part of a namespace",
    "SEG172": "Ingress isolation of part of a namespace without rules",
    "SEG173": "Ingress rule whose .seg form would open egress",
    "SEG174": "Egress rule whose .seg form would isolate or open ingress",
    "SEG175": "Selector, block or namespace .seg cannot write",
    "SEG176": "Port .seg cannot write",
    "SEG177": "Imported statement refused by the compiler",
    "SEG178": "Nothing to import",
    "SEG179": "Import self-check failed",
}


def _is_warning_code(code: str) -> bool:
    """SEG044, SEG100-SEG159 (lint, deny, diff/test ranges) and the render-mode
    checks that --strict turns into errors are warnings."""
    number = int(code[3:]) if code[3:].isdigit() else 0
    return number in (44, 160, 161, 165, 167) or 100 <= number <= 159


def _uri(path: str, base: str) -> str:
    rel = os.path.relpath(os.path.abspath(path), base)
    if rel.startswith(".."):
        return os.path.abspath(path).replace(os.sep, "/")
    return rel.replace(os.sep, "/")


def _has_file(d: Diagnostic) -> bool:
    return not d.span.file.startswith("<")


def _message(d: Diagnostic) -> str:
    return "\n".join([d.message, *(f"note: {n}" for n in d.notes)])


def render_sarif(diags: list[Diagnostic], base: str | None = None) -> str:
    """One SARIF 2.1.0 log with one run: segc as the tool, one rule per diagnostic code."""
    base = os.path.abspath(base or os.getcwd())
    items = _unique(diags)
    codes = sorted(set(RULES) | {d.code for d in items})
    index = {c: i for i, c in enumerate(codes)}
    rules = []
    for c in codes:
        worst = "warning" if _is_warning_code(c) else ERROR
        rules.append(
            {
                "id": c,
                "name": "".join(w.capitalize() for w in RULES.get(c, c).replace("-", " ").replace(".", " ").split() if w.isalnum()) or c,
                "shortDescription": {"text": RULES.get(c, f"segc diagnostic {c}")},
                "defaultConfiguration": {"level": worst},
                "helpUri": f"{INFORMATION_URI}/blob/main/docs/cli.md",
            }
        )
    results = []
    for d in items:
        result: dict = {
            "ruleId": d.code,
            "ruleIndex": index[d.code],
            "level": "error" if d.severity == ERROR else "warning",
            "message": {"text": _message(d)},
        }
        if _has_file(d):
            uri = _uri(d.span.file, base)
            artifact = {"uri": "file://" + uri} if uri.startswith("/") else {"uri": uri, "uriBaseId": "%SRCROOT%"}
            location: dict = {"artifactLocation": artifact}
            if d.span.line >= 1:
                region = {"startLine": d.span.line, "startColumn": max(d.span.column, 1)}
                if d.span.end_line == d.span.line and d.span.end_column > d.span.column:
                    region["endLine"] = d.span.end_line
                    region["endColumn"] = d.span.end_column
                location["region"] = region
            result["locations"] = [{"physicalLocation": location}]
        results.append(result)
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "segc", "version": __version__, "informationUri": INFORMATION_URI, "rules": rules}},
                "originalUriBaseIds": {"%SRCROOT%": {"uri": "file://" + base.replace(os.sep, "/").rstrip("/") + "/"}},
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(diags: list[Diagnostic], base: str | None = None) -> str:
    """GitHub Actions workflow commands: ``::error file=F,line=L,col=C,title=SEGxxx::message``."""
    base = os.path.abspath(base or os.getcwd())
    out = []
    for d in _unique(diags):
        props = []
        if _has_file(d):
            props.append(f"file={_escape_property(_uri(d.span.file, base))}")
            if d.span.line >= 1:
                props.append(f"line={d.span.line}")
                props.append(f"col={max(d.span.column, 1)}")
                if d.span.end_line == d.span.line and d.span.end_column > d.span.column:
                    props.append(f"endColumn={d.span.end_column}")
        props.append(f"title={_escape_property(d.code)}")
        command = "error" if d.severity == ERROR else "warning"
        out.append(f"::{command} {','.join(props)}::{_escape_data(_message(d))}")
    return "\n".join(out)
