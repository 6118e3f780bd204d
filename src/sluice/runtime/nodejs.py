"""Node.js environments: the machine's `node` running Sluice's own runtime client (node/index.mjs)
with the module paths of Lambda's Node runtimes: the function's own node_modules first (Node's
resolution from the task root), then the layers' (/opt/nodejs/node<major>/node_modules,
/opt/nodejs/node_modules), then the runtime's AWS SDK for JavaScript v3 (node/node_modules,
installed by `make`), then the runtime and the task root themselves.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import runtimes
from .launch import Launch, LaunchError, Sandbox
from .spec import FunctionSpec
from .variables import build_environment

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


def node_launch(spec: FunctionSpec, runtime_api_address: str, sandbox: Sandbox) -> Launch:
    node = runtimes.node_executable(spec.runtime)
    if node is None:
        # Refused at CreateFunction; this is node gone since (uninstalled, PATH changed).
        raise LaunchError("fork/exec node: no such file or directory")
    task_root = str(spec.code_dir)
    runtime_dir = str(RUNTIME_DIR)
    # Lambda's PATH starts with the runtime's own bin directory (/var/lang/bin).
    bin_dirs = [os.path.dirname(node), "/usr/local/bin", "/usr/bin/", "/bin"]
    lib_dirs = [runtime_dir, f"{runtime_dir}/lib", task_root, f"{task_root}/lib"]
    if spec.layers_dir is not None:
        bin_dirs.append(str(spec.layers_dir / "bin"))
        lib_dirs.append(str(spec.layers_dir / "lib"))
    env = build_environment(
        spec,
        # The function's own NODE_PATH wins, as Lambda's bootstrap sets it only when unset.
        defaults={"PATH": ":".join(bin_dirs), "LD_LIBRARY_PATH": ":".join(lib_dirs),
                  "NODE_PATH": node_path(spec)},
        log_stream=sandbox.log_stream,
        api_address=runtime_api_address,
        telemetry_fd=sandbox.telemetry_fd,
        runtime_dir=runtime_dir,
        home=sandbox.home,
        tmp=sandbox.tmp,
    )
    argv = (
        node,
        # As Lambda's Node bootstrap does: the V8 heap sized to the function's memory, so that a
        # handler outgrowing it fails as a heap error rather than being killed without a word.
        f"--max-old-space-size={max(1, spec.memory_mb * 9 // 10)}",
        str(CLIENT),
    )
    return Launch(argv=argv, env=env, cwd=spec.code_dir)
