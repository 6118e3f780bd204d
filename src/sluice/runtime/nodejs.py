"""Node.js environments: the machine's `node` running Sluice's own runtime client (node/index.mjs)
with the module paths of Lambda's Node runtimes: the function's own node_modules first (Node's
resolution from the task root), then the layers' (/opt/nodejs/node<major>/node_modules,
/opt/nodejs/node_modules), then the runtime's AWS SDK for JavaScript v3 (node/node_modules,
installed by `make`), then the runtime and the task root themselves.
"""

from __future__ import annotations

from pathlib import Path

from . import runtimes
from .launch import Launch, LaunchError, with_layers
from .spec import FunctionSpec

RUNTIME_DIR = Path(__file__).with_name("node")
CLIENT = RUNTIME_DIR / "index.mjs"


def node_path(spec: FunctionSpec) -> str:
    major = spec.runtime.removeprefix("nodejs").removesuffix(".x")
    paths: list[Path] = []
    if spec.layers_dir is not None:
        paths += [spec.layers_dir / "nodejs" / f"node{major}" / "node_modules",
                  spec.layers_dir / "nodejs" / "node_modules"]
    paths += [RUNTIME_DIR / "node_modules", RUNTIME_DIR, spec.code_dir]
    return ":".join(str(p) for p in paths)


def node_launch(spec: FunctionSpec, env: dict[str, str]) -> Launch:
    node = runtimes.node_executable()
    if node is None:
        raise LaunchError("fork/exec node: no such file or directory")
    env = with_layers(dict(env), spec)
    env.pop("PYTHONPATH", None)
    # Lambda's bootstrap sets NODE_PATH only when the function has not set it itself.
    env.setdefault("NODE_PATH", node_path(spec))
    bin_dir = str(Path(node).parent)
    if not env["PATH"].startswith(bin_dir + ":"):
        env["PATH"] = f"{bin_dir}:{env['PATH']}"
    argv = [node]
    # As Lambda's Node bootstrap does: the V8 heap sized to the function's memory, so that a
    # handler outgrowing it fails as a heap error rather than being killed without a word.
    argv.append(f"--max-old-space-size={max(1, spec.memory_mb * 9 // 10)}")
    argv.append(str(CLIENT))
    return Launch(argv, env, spec.code_dir)
