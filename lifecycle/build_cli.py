"""``make pulumi-cli``: the Pulumi CLI built from its Go modules, into ``.cache/pulumi/bin``.

    python3 lifecycle/build_cli.py          # stdlib only; Go 1.26 and the Go module proxy needed

What it builds, and how the release does it (pulumi/pulumi ``.goreleaser.yml`` and ``Makefile``):
``github.com/pulumi/pulumi/pkg/v3/cmd/pulumi`` at the version ``lifecycle/pulumi-cli/go.mod``
pins, with ``CGO_ENABLED=0``, the tags ``osusergo,grpcnotrace`` and the version stamped into
``sdk/v3/go/common/version.Version`` (the Automation API refuses a CLI without one). Every module
comes from the Go module proxy only (``GOPROXY`` without ``direct``, no toolchain download) and is
checked against the committed ``go.sum`` (``-mod=readonly``; the checksum database is not asked:
go.sum is the authority).

Beside the CLI goes ``pulumi-resource-pulumi-python``, the shim that starts Python dynamic
providers, taken from the ``sdk/v3`` module the build read (``python/dist``), as the release
archive ships it. The Python language host is not built: its module
(``sdk/python/cmd/pulumi-language-python/v3``) is not served by the proxy these machines reach;
the build says so and the lifecycle runs programs inline (docs/lifecycle.md).

A second run finds the binary of the pinned version and the stamp of the same ``go.sum`` and
returns at once. Any failure is one line on stderr naming what is missing, and exit status 1.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULE = ROOT / "lifecycle" / "pulumi-cli"
OUT = ROOT / ".cache" / "pulumi" / "bin"
CLI = OUT / "pulumi"
STAMP = OUT / ".built-from"
PACKAGE = "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
SDK = "github.com/pulumi/pulumi/sdk/v3"
DYNAMIC_SHIM = "pulumi-resource-pulumi-python"
PROXY = "https://proxy.golang.org"
LANGUAGE_HOST = "github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3"


class BuildError(RuntimeError):
    """The CLI cannot be built here; the message says what is missing."""


def pinned_version() -> str:
    """The pulumi version ``go.mod`` requires (the CLI's ``pulumi version`` prints it)."""
    found = re.search(r"github\.com/pulumi/pulumi/pkg/v3 (v\S+)", (MODULE / "go.mod").read_text())
    if not found:
        raise BuildError(f"{MODULE / 'go.mod'} does not require github.com/pulumi/pulumi/pkg/v3")
    return found.group(1)


def fingerprint() -> str:
    """What the binary was built from: the module's go.mod and go.sum."""
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum"):
        digest.update((MODULE / name).read_bytes())
    return digest.hexdigest()


def go_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "GOPROXY": PROXY,  # no `direct`: never a VCS host, only the registry
        "GOFLAGS": "-mod=readonly",
        "GONOSUMDB": "", "GOSUMDB": "off",  # go.sum, committed, is the checksum authority
        "GOTOOLCHAIN": "local",  # never download another Go
        "CGO_ENABLED": "0",
    })
    return env


def _go(*args: str, capture: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["go", *args], cwd=MODULE, env=go_env(), text=True, check=False,
                          stdout=subprocess.PIPE if capture else None, stderr=subprocess.PIPE)


def _first_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if "403" in line or "404" in line or "not available" in line or "no such host" in line or "dial tcp" in line:
            return line
    return lines[-1] if lines else "no output"


def up_to_date(version: str) -> bool:
    if not (os.access(CLI, os.X_OK) and (OUT / DYNAMIC_SHIM).is_file() and STAMP.is_file()):
        return False
    if STAMP.read_text().strip() != fingerprint():
        return False
    shown = subprocess.run([str(CLI), "version"], capture_output=True, text=True, check=False)
    return shown.stdout.strip() == version


def build(version: str) -> None:
    if shutil.which("go") is None:
        raise BuildError("`go` is not on PATH: install Go 1.26 (the CLI is built from Go modules)")
    found = _go("version")
    if found.returncode != 0 or not re.search(r"go1\.(2[6-9]|[3-9]\d)", found.stdout):
        seen = found.stdout.strip() or found.stderr.strip()
        raise BuildError(f"Go 1.26 or later is needed to build pulumi {version} (found: {seen})")
    downloaded = _go("mod", "download", "-x" if os.environ.get("VERBOSE") else "-json")
    if downloaded.returncode != 0:
        why = _first_error(downloaded.stderr + downloaded.stdout)
        raise BuildError(f"the Go module proxy ({PROXY}) did not serve what go.sum pins: {why}")
    OUT.mkdir(parents=True, exist_ok=True)
    partial = OUT / "pulumi.partial"
    built = _go("build", "-trimpath", "-tags", "osusergo,grpcnotrace",
                "-ldflags", f"-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version={version}",
                "-o", str(partial), PACKAGE)
    if built.returncode != 0:
        raise BuildError(f"go build {PACKAGE} failed: {_first_error(built.stderr)}")
    partial.replace(CLI)
    listed = _go("list", "-m", "-f", "{{.Dir}}", SDK)
    shim = Path(listed.stdout.strip()) / "python" / "dist" / DYNAMIC_SHIM
    if listed.returncode != 0 or not shim.is_file():
        raise BuildError(f"{DYNAMIC_SHIM} not found in the {SDK} module ({shim})")
    shutil.copyfile(shim, OUT / DYNAMIC_SHIM)
    (OUT / DYNAMIC_SHIM).chmod(0o755)
    STAMP.write_text(fingerprint() + "\n")


def language_host_served() -> bool:
    """Whether the proxy lists any version of the Python language host's module (it answered 403
    "This module version is not available" on 2026-12-02)."""
    env = {**go_env(), "GOFLAGS": "-mod=mod"}
    asked = subprocess.run(["go", "list", "-m", "-versions", LANGUAGE_HOST], cwd=MODULE, env=env,
                           capture_output=True, text=True, check=False)
    return asked.returncode == 0 and len(asked.stdout.split()) > 1


def main() -> int:
    try:
        version = pinned_version()
        if up_to_date(version):
            print(f"pulumi {version}: {CLI.relative_to(ROOT)} is built (go.sum unchanged)")
            return 0
        started = time.monotonic()
        print(f"building pulumi {version} from Go modules into {OUT.relative_to(ROOT)} (minutes on a cold cache)...",
              flush=True)
        build(version)
    except BuildError as exc:
        print(f"make pulumi-cli: {exc}", file=sys.stderr)
        return 1
    print(f"pulumi {version}: built in {time.monotonic() - started:.0f} s")
    if not language_host_served():
        print(f"note: {LANGUAGE_HOST} is not served by {PROXY}: programs run inline (docs/lifecycle.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
