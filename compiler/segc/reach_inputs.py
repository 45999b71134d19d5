"""Which evaluator answers `segc reach` for a list of POLICY arguments.

* only .seg files: evaluator 1, the program's own meaning (even for a program
  `segc build` would refuse);
* only NetworkPolicy YAML (files or directories of them, e.g. `segc build`
  output): evaluator 2, Kubernetes semantics;
* both: the .seg files are compiled and evaluated with the YAML by evaluator 2,
  as they would be applied together.
"""

from __future__ import annotations

import ipaddress
import os

from . import ir

SEG_SUFFIXES = (".seg",)
YAML_SUFFIXES = (".yaml", ".yml", ".json")


class PolicyInputError(Exception):
    pass


def _expand(paths: list[str]) -> tuple[list[str], list[str]]:
    seg, yml = [], []
    for p in paths:
        if os.path.isdir(p):
            for name in sorted(os.listdir(p)):
                if name.endswith(YAML_SUFFIXES):
                    yml.append(os.path.join(p, name))
        elif p.endswith(SEG_SUFFIXES):
            seg.append(p)
        elif p.endswith(YAML_SUFFIXES):
            yml.append(p)
        elif not os.path.exists(p):
            raise PolicyInputError(f"{p}: no such file")
        else:
            raise PolicyInputError(f"{p}: expected a .seg file, a YAML file of NetworkPolicy objects, or a directory of them")
    return seg, yml


def _yaml_blocks(policies: list[dict]) -> list:
    blocks = []
    for pol in policies:
        spec = pol.get("spec") or {}
        for section, key in (("ingress", "from"), ("egress", "to")):
            for rule in spec.get(section) or []:
                for peer in (rule or {}).get(key) or []:
                    block = (peer or {}).get("ipBlock")
                    if not block:
                        continue
                    for cidr in [block.get("cidr"), *(block.get("except") or [])]:
                        try:
                            blocks.append(ipaddress.ip_network(str(cidr), strict=False))
                        except ValueError:
                            pass
    return blocks


def _seg_blocks(program: ir.Program) -> list:
    blocks = []
    for a in (*program.allows, *program.denies):  # deny blocks split classes too
        for p in (a.src, a.dst):
            if isinstance(p, ir.BlockPeer):
                blocks += [p.net, *p.excepts]
    return blocks


def evaluator_for(paths: list[str], cluster):
    """(evaluator or None, address blocks in play, compile Result or None)."""
    from .compile import compile_paths, resolve_paths
    from .k8s_eval import K8sEvaluator, PolicyFileError, load_policies

    seg, yml = _expand(paths)
    policies: list[dict] = []
    for path in yml:
        try:
            policies += load_policies(path)
        except PolicyFileError as e:
            raise PolicyInputError(str(e)) from None
    if seg and not yml:
        from .seg_eval import SegEvaluator

        result = resolve_paths(seg)
        if result.program is None:
            return None, [], result
        return SegEvaluator(result.program, cluster), _seg_blocks(result.program), result
    result = None
    if seg:
        result = compile_paths(seg)
        if not result.ok:
            return None, [], result
        policies += result.policies
    return K8sEvaluator(policies, cluster), _yaml_blocks(policies), result
