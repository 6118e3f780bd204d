"""Node.js and custom-runtime environments driven in process (EnvironmentPool, as tests/test_runtime.py
does): with a merged layers tree in FunctionSpec.layers_dir, what Lambda mounts at /opt, module
resolution order (the function's own node_modules, then the layers', then the runtime's SDK),
ES modules importing from layers, /opt/bin on PATH, a bootstrap from the layers' root; the JSON
log format; the memory limit."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from sluice.runtime import FunctionSpec

from .test_runtime import make_spec, request, with_pool, write

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs node on PATH")


def node_spec(root: Path, layers: Path | None, handler: str = "index.handler", **changes: Any) -> FunctionSpec:
    return make_spec(root, handler=handler, runtime="nodejs20.x", layers_dir=layers, **changes)


def layer_tree(tmp_path: Path) -> Path:
    opt = tmp_path / "opt"
    write(opt, "nodejs/node_modules/shared/index.js", "module.exports = 'layer shared';")
    write(opt, "nodejs/node_modules/overridden/index.js", "module.exports = 'layer copy';")
    write(opt, "nodejs/node20/node_modules/versioned/index.js", "module.exports = 'node20 folder';")
    write(opt, "nodejs/node_modules/esm-lib/package.json", '{"type": "module", "exports": "./main.js"}')
    write(opt, "nodejs/node_modules/esm-lib/main.js", "export const hello = () => 'esm from a layer';")
    write(opt, "bin/layer-tool", "#!/bin/sh\necho tool from the layer\n")
    (opt / "bin" / "layer-tool").chmod(0o755)
    return opt


def test_node_resolves_its_own_modules_then_layers_then_the_sdk(tmp_path: Path) -> None:
    opt = layer_tree(tmp_path)
    root = tmp_path / "task"
    write(root, "node_modules/overridden/index.js", "module.exports = 'function copy';")
    write(root, "index.js", """
        const { execFileSync } = require('node:child_process');
        exports.handler = async () => ({
          shared: require('shared'),
          overridden: require('overridden'),
          versioned: require('versioned'),
          sdk: typeof require('@aws-sdk/client-s3').S3Client,
          tool: execFileSync('layer-tool').toString().trim(),
        });
        """)
    write(root, "esm.mjs", """
        import { hello } from 'esm-lib';
        import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
        export const handler = async () => ({ hello: hello(), sdk: typeof DynamoDBClient });
        """)

    async def body(pool: Any, sink: Any) -> tuple[Any, Any]:
        cjs = await pool.invoke(node_spec(root, opt), request(node_spec(root, opt)))
        esm_spec = node_spec(root, opt, handler="esm.handler", name="esm")
        esm = await pool.invoke(esm_spec, request(esm_spec))
        return cjs, esm

    (cjs, esm), _ = with_pool(tmp_path, body)
    assert cjs.ok, cjs.payload
    assert json.loads(cjs.payload) == {"shared": "layer shared", "overridden": "function copy",
                                       "versioned": "node20 folder", "sdk": "function",
                                       "tool": "tool from the layer"}
    assert esm.ok, esm.payload
    assert json.loads(esm.payload) == {"hello": "esm from a layer", "sdk": "function"}


def test_a_custom_runtime_bootstrap_can_come_from_a_layer(tmp_path: Path) -> None:
    opt = tmp_path / "opt"
    write(opt, "bootstrap", f"""\
        #!{os.path.realpath(shutil.which("python3") or "/usr/bin/python3")}
        import json, os, urllib.request
        api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
        while True:
            with urllib.request.urlopen(api + "next") as r:
                rid, event = r.headers["Lambda-Runtime-Aws-Request-Id"], json.load(r)
            doc = {{"handler": os.environ["_HANDLER"], "event": event,
                   "hidden": [k for k in ("_LAMBDA_TELEMETRY_LOG_FD", "AWS_EXECUTION_ENV") if k in os.environ],
                   "task_root": os.environ["LAMBDA_TASK_ROOT"] == os.getcwd()}}
            urllib.request.urlopen(urllib.request.Request(api + rid + "/response", data=json.dumps(doc).encode())).read()
        """)
    (opt / "bootstrap").chmod(0o755)
    root = tmp_path / "task"
    write(root, "function.sh", "handler () { :; }\n")
    spec = make_spec(root, handler="function.handler", runtime="provided.al2023", layers_dir=opt)

    async def body(pool: Any, sink: Any) -> Any:
        return await pool.invoke(spec, request(spec, {"x": 1}))

    result, _ = with_pool(tmp_path, body)
    assert result.ok, result.payload
    assert json.loads(result.payload) == {"handler": "function.handler", "event": {"x": 1}, "hidden": [],
                                           "task_root": True}


def test_json_log_format_records_and_level_filter(tmp_path: Path) -> None:
    root = tmp_path / "task"
    write(root, "index.js", """
        exports.handler = async () => {
          console.debug('hidden at INFO');
          console.info('visible', 1);
          console.error(new RangeError('out of range'));
          console.info({ order: 7 });
          console.warn('failed:', new TypeError('no'));
          return 'ok';
        };
        """)
    spec = node_spec(root, None, log_format="JSON", application_log_level="INFO")

    async def body(pool: Any, sink: Any) -> Any:
        return await pool.invoke(spec, request(spec))

    result, sink = with_pool(tmp_path, body)
    assert result.ok
    records = [json.loads(m) for m in sink.messages()]  # JSON throughout: platform records too
    assert {"platform.start", "platform.report"} <= {r.get("type") for r in records}
    app = [r for r in records if "level" in r]
    assert [r["level"] for r in app] == ["INFO", "ERROR", "INFO", "WARN"]  # DEBUG filtered out
    assert app[0]["message"] == "visible 1" and app[2]["message"] == {"order": 7}
    assert all(r["requestId"] == result.request_id for r in app)
    # One argument is the message itself: an Error becomes its fields, as AWS's Node runtime logs it.
    assert (app[1]["message"]["errorType"], app[1]["message"]["stackTrace"][0]) == ("RangeError",
                                                                                  "RangeError: out of range")
    # Several arguments are formatted into one string; the first Error lends its fields to the record.
    assert app[3]["message"].startswith("failed: TypeError: no") and app[3]["errorType"] == "TypeError"


def test_memory_over_the_limit_is_out_of_memory_and_ends_the_environment(tmp_path: Path) -> None:
    root = tmp_path / "task"
    write(root, "index.js", """
        const keep = [];
        exports.handler = async (event) => {
          if (event.heap) { const a = []; for (;;) a.push({ x: Math.random(), y: 'z'.repeat(100) }); }
          for (;;) keep.push(Buffer.alloc(8 * 1024 * 1024, 1));  // off the V8 heap
        };
        """)
    spec = node_spec(root, None, memory_mb=128)

    async def body(pool: Any, sink: Any) -> list[Any]:
        return [await pool.invoke(spec, request(spec, {"heap": heap})) for heap in (False, True)]

    results, _ = with_pool(tmp_path, body)
    for result in results:
        assert (result.ok, result.error_type, result.max_memory_used_mb) == (False, "Runtime.OutOfMemory", 128)
        assert result.init_duration_ms is not None  # the first one's environment did not survive
