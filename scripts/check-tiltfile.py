#!/usr/bin/env python3
"""Checks the Tiltfile against the files it drives: Tilt cannot run here, but its
Tiltfile can. It is evaluated by a Starlark interpreter (the starlark-pyo3 package) with
Tilt's functions recording their arguments; `local` runs only `rustc -vV`. Then:

- each kustomize() path is an overlay rendered by scripts/check-k8s.sh, and every
  k8s_resource and resource_deps name is a workload of those renders or a local_resource;
- the image custom_build makes is the one the dev overlay's hearth container runs;
- `hearth-binary` builds exactly the file the live update syncs (debug, static, for the
  host's triple), and that file is a dependency of the image build;
- the sync lands in an emptyDir mounted in the hearth container, at the path the dev
  image's entrypoint (deploy/dev/hearth-live.sh) runs, followed by the signal it traps;
- the files fall_back_on names are dependencies of the image build, every dependency
  exists, and the shell commands pass shellcheck.

    scripts/check-tiltfile.py RENDERED_DIR     (scripts/check-k8s.sh runs it)
"""
import os
import re
import subprocess
import sys
import tempfile

import starlark as sl
import yaml

ENTRYPOINT = "deploy/dev/hearth-live.sh"
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet", "Pod"}

rendered_dir = sys.argv[1]
problems = []
calls = {}


def record(name):
    def call(*args, **kwargs):
        calls.setdefault(name, []).append((args, kwargs))
        return {"fn": name, "args": list(args), "kwargs": kwargs}

    return call


def local(command, quiet=False, **_):
    calls.setdefault("local", []).append(((command,), {}))
    if command.startswith("rustc -vV"):
        return subprocess.run(["sh", "-c", command], check=True, capture_output=True, text=True).stdout
    return ""


module = sl.Module()
for name in ["local_resource", "custom_build", "fall_back_on", "sync", "run", "k8s_yaml", "k8s_resource", "link"]:
    module.add_callable(name, record(name))
module.add_callable("kustomize", lambda path, **_: {"fn": "kustomize", "path": path})
module.add_callable("local", local)
module.add_callable("print", record("print"))
module.add_callable("_getenv", lambda key, default=None: os.environ.get(key, default))
module.add_callable("_exists", os.path.exists)
module["TRIGGER_MODE_MANUAL"] = 1
module["TRIGGER_MODE_AUTO"] = 0
globals_ = sl.Globals.extended_by([sl.LibraryExtension.StructType])
# Go Starlark as Tilt configures it: statements such as `if` at the top level.
dialect = sl.Dialect.standard()
dialect.enable_top_level_stmt = True
sl.eval(module, sl.parse("tilt", "os = struct(getenv=_getenv, path=struct(exists=_exists))"), globals_)
try:
    sl.eval(module, sl.parse("Tiltfile", open("Tiltfile").read(), dialect), globals_)
except sl.StarlarkError as e:
    sys.exit(f"error: the Tiltfile does not evaluate:\n{e}")


def one(name):
    found = calls.get(name, [])
    if len(found) != 1:
        sys.exit(f"error: the Tiltfile calls {name}() {len(found)} times, not once")
    return found[0]


# The rendered overlays and their workloads.
documents = []
for args, _ in calls.get("k8s_yaml", []):
    for item in args[0] if isinstance(args[0], list) else [args[0]]:
        match = re.fullmatch(r"deploy/k8s/overlays/([a-z]+)(/secret)?", item.get("path", ""))
        if not match:
            problems.append(f"k8s_yaml({item}) is not one of the overlays scripts/check-k8s.sh renders")
            continue
        file = os.path.join(rendered_dir, match[1] + ("-secret" if match[2] else "") + ".yaml")
        documents += [d for d in yaml.safe_load_all(open(file)) if d]
workloads = {d["metadata"]["name"]: d for d in documents if d["kind"] in WORKLOAD_KINDS}
local_resources = {args[0] if args else kwargs["name"]: kwargs for args, kwargs in calls.get("local_resource", [])}
for args, kwargs in calls.get("k8s_resource", []):
    name = args[0] if args else kwargs["workload"]
    if name not in workloads:
        problems.append(f"k8s_resource('{name}'): no such workload in the dev overlay ({', '.join(sorted(workloads))})")
    for dep in kwargs.get("resource_deps", []):
        if dep not in workloads and dep not in local_resources:
            problems.append(f"k8s_resource('{name}'): resource_deps names '{dep}', which is not a resource")

# The image and its live update.
(ref, build_command), build = one("custom_build")
deployment = workloads.get("hearth")
if deployment is None:
    sys.exit("error: Tiltfile: the dev overlay has no workload named hearth")
container = next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "hearth")
if container["image"].rsplit(":", 1)[0] != ref:
    problems.append(f"custom_build builds {ref}, but the dev overlay's hearth container runs {container['image']}")
deps = build.get("deps", [])
steps = build.get("live_update", [])
syncs = [s for s in steps if s["fn"] == "sync"]
runs = [s for s in steps if s["fn"] == "run"]
fall_back = [path for s in steps if s["fn"] == "fall_back_on" for path in s["args"][0]]
if len(syncs) != 1 or len(runs) != 1:
    sys.exit(f"error: the live update has {len(syncs)} sync and {len(runs)} run steps, not one of each")
binary, destination = syncs[0]["args"]
triple = subprocess.run(["rustc", "-vV"], check=True, capture_output=True, text=True).stdout
triple = re.search(r"^host: (\S+)", triple, re.M)[1]
if binary != f"target/{triple}/debug/hearth":
    problems.append(f"the live update syncs {binary}, not target/{triple}/debug/hearth")
if binary not in deps:
    problems.append(f"{binary} is not a dependency of the image build: a new one would not be synced")
compile_command = local_resources.get("hearth-binary", {}).get("cmd", "")
for needed in ["cargo build", f"--target {triple}", "+crt-static", "pack-relative-relocs"]:
    if needed not in compile_command:
        problems.append(f"local_resource('hearth-binary') does not build with '{needed}': {compile_command!r}")
if "--release" in compile_command:
    problems.append("local_resource('hearth-binary') builds a release binary; the live update syncs the debug one")

entrypoint = open(ENTRYPOINT).read()
if f"-x {destination}" not in entrypoint:
    problems.append(f"the live update writes {destination}, which {ENTRYPOINT} does not run")
signal = re.fullmatch(r"kill -([A-Z]+) 1", runs[0]["args"][0])
if not signal or not re.search(rf"^trap '[^']*' (.* )?{signal[1]}( |$)", entrypoint, re.M):
    problems.append(f"the live update runs {runs[0]['args'][0]!r}, a signal {ENTRYPOINT} does not trap")
volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"].get("volumes", [])}
mounts = [m for m in container.get("volumeMounts", []) if destination.startswith(m["mountPath"].rstrip("/") + "/")]
if not mounts or "emptyDir" not in volumes.get(mounts[0]["name"], {}) or mounts[0].get("readOnly"):
    problems.append(f"{destination} is not on a writable emptyDir of the hearth container (dev overlay)")

for path in fall_back:
    if path not in deps:
        problems.append(f"fall_back_on names {path}, which is not a dependency of the image build")
for args, kwargs in calls.get("local_resource", []):
    deps += kwargs.get("deps", [])
for path in deps:
    if path != binary and not os.path.exists(path):
        problems.append(f"the Tiltfile depends on {path}, which does not exist")

# The shell the Tiltfile hands to sh.
with tempfile.TemporaryDirectory() as folder:
    scripts = {"custom_build command": build_command, "hearth-binary cmd": compile_command}
    for what, text in scripts.items():
        path = os.path.join(folder, what.replace(" ", "-") + ".sh")
        with open(path, "w") as out:
            out.write("#!/bin/sh\n" + text + "\n")
        result = subprocess.run(["shellcheck", "-s", "sh", path], capture_output=True, text=True)
        if result.returncode:
            problems.append(f"shellcheck of the {what}:\n{result.stdout}")

for p in problems:
    print(f"error: Tiltfile: {p}", file=sys.stderr)
sys.exit(1 if problems else 0)
