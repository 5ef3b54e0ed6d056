#!/usr/bin/env python3
"""Deployment tests: sf-modgen, docker-compose.yml and the Helm chart.

  run_deploy.py modgen  --modgen BIN --check BIN
      golden outputs (cases/*.args -> cases/*.yaml, exact bytes), each
      accepted by sf-local-check; every error in errors.txt (exact stderr,
      exit 2, nothing on stdout); -o, --help, --version.
  run_deploy.py compose --modgen BIN --check BIN --source DIR
      deploy/compose/gen-module.sh writes the golden greeter module;
      `docker-compose config` (Debian's docker-compose, no engine needed)
      accepts docker-compose.yml and mounts exactly that file in the
      StateFun master and worker.
  run_deploy.py helm    --modgen BIN --check BIN --source DIR
      helm/statefun-c/gen-module.sh writes the golden module; `helm lint
      --strict` and `helm template` pass; the rendered ConfigMap's
      module.yaml is byte for byte sf-modgen's file. Installs helm with
      `go install` when it is missing (cached in GOPATH/bin).

Compose and chart are copied into a temporary folder first, so the tests
never write into the source tree. Python standard library only. Exit 77
(CTest: skipped) when a needed tool cannot be had.
"""
import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from sftest.checks import Tally  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(HERE, "cases")
HELM_VERSION = "v3.14.4"
SKIP = 77

TALLY = Tally()


def ok(cond, what, detail=""):
    if not TALLY.add(cond):
        print("FAIL: %s" % what)
        if detail:
            print("  " + detail.replace("\n", "\n  "))
    return cond


def run(cmd, cwd=None, env=None, timeout=120):
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def diff(expected, got):
    import difflib
    return "".join(difflib.unified_diff(
        expected.splitlines(True), got.splitlines(True), "expected", "got"))


def read_args(path):
    args = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#"):
                continue
            args.append(line)
    return args


def local_check(check, path, what):
    r = run([check, path])
    return ok(r.returncode == 0, "%s: sf-local-check accepts it" % what,
              r.stdout + r.stderr)


# ---------------------------------------------------------------- modgen

def test_modgen(a):
    names = sorted(f[:-5] for f in os.listdir(CASES) if f.endswith(".args"))
    ok(len(names) >= 5, "at least five golden cases", str(names))
    tmp = tempfile.mkdtemp(prefix="sf-modgen-")
    try:
        for n in names:
            args = read_args(os.path.join(CASES, n + ".args"))
            r = run([a.modgen] + args, cwd=CASES)
            with open(os.path.join(CASES, n + ".yaml")) as f:
                want = f.read()
            if not ok(r.returncode == 0, "%s: exit 0" % n, r.stderr):
                continue
            ok(r.stderr == "", "%s: nothing on stderr" % n, r.stderr)
            ok(r.stdout == want, "%s: output is the golden file" % n,
               diff(want, r.stdout))
            out = os.path.join(tmp, n + ".yaml")
            # -o: same bytes, written whole (no .tmp left behind).
            r2 = run([a.modgen] + args + ["-o", out], cwd=CASES)
            ok(r2.returncode == 0 and r2.stdout == "", "%s: -o exit 0" % n,
               r2.stderr)
            if not ok(os.path.exists(out), "%s: -o wrote %s" % (n, out)):
                continue
            with open(out) as f:
                ok(f.read() == want, "%s: -o writes the same bytes" % n)
            ok(not os.path.exists(out + ".tmp"), "%s: no .tmp left" % n)
            local_check(a.check, out, n)

        # Every bad option and bad config file, with its exact message.
        count = 0
        with open(os.path.join(HERE, "errors.txt")) as f:
            for line in f:
                line = line.rstrip("\n")
                if not line or line.startswith("#"):
                    continue
                args, want = line.split(" ==> ", 1)
                out = os.path.join(tmp, "error-%d.yaml" % count)
                # -o first, so a missing value stays missing; an error
                # must leave no file behind.
                r = run([a.modgen, "-o", out] + shlex.split(args), cwd=CASES)
                count += 1
                ok(r.returncode == 2, "[%s]: exit 2 (got %d)" %
                   (args, r.returncode), r.stderr)
                ok(r.stderr == want + "\n", "[%s]: message" % args,
                   "want: %s\ngot:  %s" % (want, r.stderr.rstrip("\n")))
                ok(r.stdout == "", "[%s]: nothing on stdout" % args, r.stdout)
                ok(not os.path.exists(out), "[%s]: no output file" % args)
        ok(count >= 40, "errors.txt has the bad options (%d)" % count)

        # The JSON syntax error is where the file says it is.
        with open(os.path.join(CASES, "bad-syntax.json")) as f:
            lines = f.read().split("\n")
        ok(lines[4].strip() == '"a.fns/three"',
           "bad-syntax.json: the missing ',' is before line 5", lines[4])

        # examples/shopping-cart/module.yaml is sf-modgen's output for its
        # IR (after the example's own leading comment).
        example = os.path.join(a.source, "examples", "shopping-cart",
                               "module.yaml")
        with open(example) as f:
            text = f.read()
        gen = text.find("# Generated by sf-modgen")
        prov = re.search(r"^#   (sf-modgen .*)$", text, re.M)
        ok(gen >= 0 and prov is not None,
           "shopping-cart module.yaml: has the sf-modgen header")
        if gen >= 0 and prov is not None:
            args = shlex.split(prov.group(1))[1:]
            ok(args == ["--ir", "examples/shopping-cart/shop.ir.json",
                        "--url-template",
                        "http://127.0.0.1:8000/statefun/{function.name}",
                        "--kafka", "127.0.0.1:9092"],
               "shopping-cart module.yaml: the documented command", str(args))
            r = run([a.modgen] + args, cwd=a.source)
            ok(r.returncode == 0 and r.stdout == text[gen:],
               "shopping-cart module.yaml is sf-modgen's output",
               r.stderr + diff(text[gen:], r.stdout))
            local_check(a.check, example, "shopping-cart module.yaml")

        r = run([a.modgen, "--help"])
        ok(r.returncode == 0 and "Examples:" in r.stdout and
           "--ingress-topic" in r.stdout and "--transaction-timeout" in
           r.stdout, "--help: usage with examples", r.stdout + r.stderr)
        ok("--ir FILE.json" in r.stdout and "--entity-topics" in r.stdout and
           ".io/replies" in r.stdout, "--help: --ir, --entity-topics and "
           "the replies egress", r.stdout)
        r = run([a.modgen, "--version"])
        ok(r.returncode == 0 and re.fullmatch(r"sf-modgen \d+\.\d+\.\d+\n",
                                              r.stdout),
           "--version", r.stdout + r.stderr)
        # An output file that cannot be written: exit 1, a message.
        r = run([a.modgen, "--function", "a/b", "--endpoint", "http://x:1/",
                 "-o", os.path.join(tmp, "no", "such", "dir.yaml")])
        ok(r.returncode == 1 and r.stderr.startswith("sf-modgen: cannot write"),
           "unwritable -o: exit 1", r.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------- compose

def service_block(text, name):
    """The lines of `  name:` in `docker-compose config` output."""
    m = re.search(r"^  %s:\n((?:    .*\n|\s*\n)*)" % re.escape(name), text,
                  re.M)
    return m.group(1) if m else ""


def test_compose(a):
    dc = shutil.which("docker-compose")
    if not dc:
        print("SKIP: docker-compose is not installed (scripts/install-deps.sh "
              "installs Debian's docker-compose)")
        return SKIP
    tmp = tempfile.mkdtemp(prefix="sf-compose-")
    try:
        os.makedirs(os.path.join(tmp, "deploy", "compose"))
        for rel in ("docker-compose.yml", "Dockerfile", ".dockerignore",
                    "deploy/compose/gen-module.sh"):
            shutil.copy2(os.path.join(a.source, rel), os.path.join(tmp, rel))
        env = dict(os.environ, SF_MODGEN=a.modgen)
        r = run(["bash", os.path.join(tmp, "deploy/compose/gen-module.sh")],
                env=env)
        if not ok(r.returncode == 0, "compose gen-module.sh exit 0", r.stderr):
            return
        module = os.path.join(tmp, "deploy/compose/module.yaml")
        with open(module) as f:
            got = f.read()
        with open(os.path.join(CASES, "compose-greeter.yaml.golden")) as f:
            want = f.read()
        ok(got == want, "compose module.yaml is the golden greeter module",
           diff(want, got))
        local_check(a.check, module, "compose module.yaml")

        r = run([dc, "-f", "docker-compose.yml", "config"], cwd=tmp)
        if not ok(r.returncode == 0, "docker-compose config accepts the file",
                  r.stdout + r.stderr):
            return
        cfg = r.stdout
        mount = "%s:/opt/statefun/modules/greeter/module.yaml:ro" % module
        for svc, role in (("statefun-master", "master"),
                          ("statefun-worker", "worker")):
            b = service_block(cfg, svc)
            ok("image: apache/flink-statefun:3.3.0" in b,
               "%s: official image 3.3.0" % svc, b)
            ok("ROLE: %s" % role in b, "%s: ROLE=%s" % (svc, role), b)
            ok("MASTER_HOST: statefun-master" in b, "%s: MASTER_HOST" % svc, b)
            ok("- " + mount in b, "%s mounts the generated module.yaml" % svc,
               "want: %s\n%s" % (mount, b))
        g = service_block(cfg, "greeter")
        ok("context: %s" % tmp in g and "dockerfile: Dockerfile" in g,
           "greeter builds our Dockerfile", g)
        ok("- --listen\n    - 0.0.0.0:8000" in g, "greeter listens on 0.0.0.0",
           g)
        k = service_block(cfg, "kafka")
        ok("KAFKA_PROCESS_ROLES: broker,controller" in k, "kafka: KRaft", k)
        # The module's addresses are the compose service names.
        ok("http://greeter:8000/" in got and "address: kafka:9092" in got,
           "module.yaml names the compose services")
        # Without the generated file the mount source is missing: the README
        # step matters. (docker-compose config does not check it; we do.)
        q = run([dc, "-f", "docker-compose.yml", "config", "--volumes"],
                cwd=tmp)
        ok(q.returncode == 0 and "checkpoints" in q.stdout,
           "docker-compose config --volumes", q.stdout + q.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------- helm

def find_helm():
    h = shutil.which("helm")
    if h:
        return h
    go = shutil.which("go") or ("/usr/local/go/bin/go"
                                if os.path.exists("/usr/local/go/bin/go")
                                else None)
    if not go:
        return None
    gopath = run([go, "env", "GOPATH"]).stdout.strip() or os.path.expanduser(
        "~/go")
    h = os.path.join(gopath.split(os.pathsep)[0], "bin", "helm")
    if os.path.exists(h):
        return h
    print("installing helm %s with go install (once; cached in %s)" %
          (HELM_VERSION, os.path.dirname(h)), flush=True)
    r = run([go, "install", "helm.sh/helm/v3/cmd/helm@" + HELM_VERSION],
            cwd=tempfile.gettempdir(), timeout=1500)
    if r.returncode != 0 or not os.path.exists(h):
        print(r.stdout + r.stderr)
        return None
    return h


def configmap_module(rendered):
    """module.yaml of the rendered ConfigMap (a `|` block, 4 spaces)."""
    m = re.search(r"^kind: ConfigMap\n(?:.*\n)*?data:\n  module\.yaml: \|\n"
                  r"((?:    .*\n|\n)*)", rendered, re.M)
    if not m:
        return None
    block = m.group(1)
    # Trailing empty lines belong to the next document ("clip" chomping).
    block = block.rstrip("\n") + "\n"
    return "".join(l[4:] if l.strip() else "\n"
                   for l in block.splitlines(True))


def test_helm(a):
    helm = find_helm()
    if not helm:
        print("SKIP: no helm and no Go toolchain to install it with")
        return SKIP
    tmp = tempfile.mkdtemp(prefix="sf-helm-")
    try:
        chart = os.path.join(tmp, "helm", "statefun-c")
        shutil.copytree(os.path.join(a.source, "helm", "statefun-c"), chart,
                        ignore=shutil.ignore_patterns("module.yaml",
                                                      "module.yaml.tmp"))
        env = dict(os.environ, SF_MODGEN=a.modgen)
        env.pop("SF_MODULE_OUT", None)
        for k in ("SF_FUNCTIONS_SERVICE", "SF_FUNCTIONS_PORT", "SF_KAFKA"):
            env.pop(k, None)

        # Without the generated module the chart says what to do.
        r = run([helm, "template", "t", chart])
        ok(r.returncode != 0 and "run helm/statefun-c/gen-module.sh" in
           r.stderr, "helm template without files/module.yaml fails clearly",
           r.stderr)

        r = run(["bash", os.path.join(chart, "gen-module.sh")], env=env)
        if not ok(r.returncode == 0, "helm gen-module.sh exit 0", r.stderr):
            return
        module = os.path.join(chart, "files", "module.yaml")
        with open(module) as f:
            got = f.read()
        with open(os.path.join(CASES, "helm-greeter.yaml.golden")) as f:
            want = f.read()
        ok(got == want, "helm files/module.yaml is the golden module",
           diff(want, got))
        local_check(a.check, module, "helm files/module.yaml")

        r = run([helm, "lint", "--strict", chart])
        ok(r.returncode == 0, "helm lint --strict", r.stdout + r.stderr)
        r = run([helm, "template", "demo", chart])
        if not ok(r.returncode == 0, "helm template", r.stdout + r.stderr):
            return
        out = r.stdout
        cm = configmap_module(out)
        ok(cm == got, "rendered ConfigMap module.yaml == sf-modgen's file",
           diff(got, cm or ""))
        ok(out.count("name: ROLE\n              value: master") == 1,
           "master: ROLE=master")
        ok(out.count("name: ROLE\n              value: worker") == 1,
           "worker: ROLE=worker")
        ok(out.count("name: MASTER_HOST\n              value: "
                     "demo-statefun-c-master") == 2, "MASTER_HOST = master "
           "Service (both)")
        ok("kind: StatefulSet" in out and "clusterIP: None" in out,
           "workers: StatefulSet + headless Service")
        ok(re.search(r"kind: Service\nmetadata:\n  name: statefun-c-functions",
                     out) is not None, "function Service name matches the "
           "module's URL")
        ok(out.count("path: /health") == 2, "readiness and liveness on "
           "/health")
        ok("image: \"apache/flink-statefun:3.3.0\"" in out, "official image")
        ok("mountPath: /opt/statefun/modules/app/module.yaml" in out,
           "module mounted under /opt/statefun/modules")
        ok("checksum/module:" in out, "pods restart when the module changes")
        # A Service name that the module does not call is refused.
        r = run([helm, "template", "demo", chart, "--set",
                 "functions.serviceName=other-fns"])
        ok(r.returncode != 0 and "does not call the function Service" in
           r.stderr, "mismatched functions.serviceName refused", r.stderr)
        # Regenerated for another Service name, the chart follows.
        env2 = dict(env, SF_FUNCTIONS_SERVICE="other-fns",
                    SF_FUNCTIONS_PORT="9000")
        r = run(["bash", os.path.join(chart, "gen-module.sh")], env=env2)
        ok(r.returncode == 0, "gen-module.sh with another Service", r.stderr)
        r = run([helm, "template", "demo", chart, "--set",
                 "functions.serviceName=other-fns", "--set",
                 "functions.port=9000"])
        with open(module) as f:
            got2 = f.read()
        ok(r.returncode == 0 and configmap_module(r.stdout) == got2 and
           "http://other-fns:9000/statefun/{function.name}" in got2,
           "regenerated module + matching values render", r.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["modgen", "compose", "helm"])
    p.add_argument("--modgen", required=True)
    p.add_argument("--check", required=True)
    p.add_argument("--source", default=os.path.dirname(os.path.dirname(HERE)))
    a = p.parse_args()
    a.modgen = os.path.abspath(a.modgen)
    a.check = os.path.abspath(a.check)
    rc = {"modgen": test_modgen, "compose": test_compose,
          "helm": test_helm}[a.what](a)
    if rc == SKIP:
        return SKIP
    print(TALLY.summary())
    return 0 if TALLY.failed == 0 and TALLY.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
