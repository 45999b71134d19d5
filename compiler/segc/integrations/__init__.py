"""segc as a render step inside other tools: Kustomize plugins, a KRM
function (kpt), a Helm post-renderer.

Library code only (no printing, no exits): each entry point returns
diagnostics and output text; ``segc.cli.kustomize``, ``krm`` and ``helm``
render them and pick exit codes.
"""
