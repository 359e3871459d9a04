#!/usr/bin/env bash
# Set up everything the test suite, the demo and the benchmarks need, idempotently:
#   1. Debian packages (virtual screen, headless Chromium, Mesa EGL for MuJoCo, fonts);
#   2. a virtualenv at .venv/ with torch and this project installed in editable mode.
# Safe to run many times: the apt check is cheap and always runs; the pip steps are skipped
# while .venv/.setup-stamp matches a hash of their inputs.
#
# Usage:  bash scripts/setup.sh          (or: make setup)
# Environment:
#   PYTHON=python3.12        interpreter that creates .venv (>= 3.10; default python3)
#   EXTRAS=dev,torch,robot   extras of the project to install (default dev,torch,desktop,miniwob,ray,robot,mlx,train)
#   TORCH_SPEC='torch==X'    what `pip install` gets for torch before the project
#                            (default picked by platform below; set it empty to skip that step)
#   SETUP_SKIP_APT=1         don't check or install Debian packages
set -euo pipefail

# Debian bookworm names. Xvfb + scrot: screens for pyautogui/mss; xauth: XAUTHORITY files;
# chromium + chromium-driver: MiniWoB++; libegl*/libgl*/libgles2: MUJOCO_GL=egl on the CPU;
# fonts-dejavu-core, fonts-dejavu-extra: the synthetic GUI suite renders text with DejaVu (the
# condensed family is in -extra).
APT_PACKAGES="xvfb xauth scrot chromium chromium-driver libegl1 libegl-mesa0 libgl1 libgl1-mesa-dri libgles2 fonts-dejavu-core fonts-dejavu-extra"

log() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
STAMP="$VENV/.setup-stamp"
START_S=$SECONDS
set -E  # the ERR trap also fires inside functions
trap 'printf "setup: error: a step failed (scripts/setup.sh line %s); nothing was stamped, so the next run retries it\n" "$LINENO" >&2' ERR

# ---------------------------------------------------------------------------------------------
# 1. System packages
# ---------------------------------------------------------------------------------------------
install_system_packages() {
    if [[ "${SETUP_SKIP_APT:-0}" == "1" ]]; then
        log "skipping system packages (SETUP_SKIP_APT=1)"
        return
    fi
    if ! command -v dpkg-query >/dev/null 2>&1; then
        log "not a Debian-like system: install by hand what stands for: $APT_PACKAGES"
        return
    fi
    local missing=() pkg
    for pkg in $APT_PACKAGES; do
        # `dpkg -s` also succeeds for removed-but-configured packages; ask for the real state.
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done
    if ((${#missing[@]} == 0)); then
        log "system packages present"
        return
    fi
    local cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
    if [[ "$(id -u)" != "0" ]] || ! command -v apt-get >/dev/null 2>&1; then
        printf 'setup: WARNING: missing system packages: %s\n' "${missing[*]}" >&2
        printf 'setup: WARNING: tests marked display/browser/mujoco will fail or skip; install with:\n' >&2
        printf '         sudo sh -c "%s"\n' "$cmd" >&2
        return
    fi
    log "installing system packages: ${missing[*]} ..."
    export DEBIAN_FRONTEND=noninteractive
    # apt and dpkg print hundreds of lines; keep them in a log and show its tail on failure.
    local apt_log
    apt_log="$(mktemp -t setup-apt.XXXXXX)"
    if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
        </dev/null >"$apt_log" 2>&1; then
        tail -n 30 "$apt_log" >&2
        die "installing system packages failed (full log: $apt_log); run by hand: $cmd"
    fi
    rm -f "$apt_log"
    log "system packages installed"
}

# ---------------------------------------------------------------------------------------------
# 2. Python environment
# ---------------------------------------------------------------------------------------------
check_python() {  # $1: interpreter; fails unless it runs and is >= 3.10
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null
}

default_torch_spec() {
    case "$(uname -s)-$(uname -m)" in
        # These versions lie on local disk (pip's find-links + /etc/xdg/pip constraints).
        Linux-x86_64) echo "torch==2.14.1 torchvision==0.29.1" ;;
        Linux-aarch64 | Linux-arm64) echo "torch==2.9.1 torchvision==0.24.1" ;;
        *) echo "torch torchvision" ;;
    esac
}

setup_python() {
    local py="${PYTHON:-python3}"
    local extras="${EXTRAS:-dev,torch,desktop,miniwob,ray,robot,mlx,train}"
    local torch_spec="${TORCH_SPEC-$(default_torch_spec)}"  # unset: default; empty: skip

    if [[ -e "$VENV/bin/python" || -L "$VENV/bin/python" ]]; then
        # Reuse it. Never delete it here: others may be using it; `make distclean` is explicit.
        check_python "$VENV/bin/python" || die ".venv/bin/python does not run or is older than 3.10; remove .venv (make distclean) and run this again"
    else
        command -v "$py" >/dev/null 2>&1 || die "no '$py' on PATH; set PYTHON=/path/to/python3.10+"
        check_python "$py" || die "$py is $("$py" -V 2>&1 || echo 'unusable'); this project needs Python >= 3.10 (set PYTHON=python3.11, say)"
        log "creating .venv with $("$py" -V 2>&1) ..."
        "$py" -m venv "$VENV"
        rm -f "$STAMP"
    fi
    local vpy="$VENV/bin/python"

    # Everything that changes what pip would install goes into the stamp.
    local want
    want="$(EXTRAS="$extras" TORCH_SPEC="$torch_spec" "$vpy" - <<'PY'
import hashlib, os, platform, sys
h = hashlib.sha256()
for path in ("pyproject.toml", "scripts/setup.sh"):
    with open(path, "rb") as f:
        h.update(path.encode() + b"\0" + f.read() + b"\0")
for part in (os.environ["EXTRAS"], os.environ["TORCH_SPEC"], sys.version, platform.machine()):
    h.update(part.encode() + b"\0")
print(h.hexdigest())
PY
)"
    if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
        log "python env up to date ($("$vpy" -V 2>&1), extras [$extras])"
        return
    fi

    rm -f "$STAMP"  # written again only if every step below succeeds
    export PIP_NO_INPUT=1
    log "upgrading pip ..."
    "$vpy" -m pip install --upgrade --quiet pip
    local verify="import gymnasium, pydantic"
    if [[ -n "$torch_spec" ]]; then
        log "installing $torch_spec ..."
        # shellcheck disable=SC2086  # the spec is a list of requirements
        "$vpy" -m pip install --quiet $torch_spec
        verify="import torch, gymnasium, pydantic"
    fi
    log "installing the project: pip install -e \".[$extras]\" ..."
    "$vpy" -m pip install --quiet -e ".[$extras]"
    log "checking imports: $verify"
    "$vpy" -c "$verify" || die "the environment does not import ($verify)"
    printf '%s\n' "$want" >"$STAMP.tmp" && mv "$STAMP.tmp" "$STAMP"
    log "python env ready"
}

# Two runs at once (make test in two shells) must not install into one venv together.
# The lock is held on this script itself, so no lock file is left behind.
if command -v flock >/dev/null 2>&1; then
    exec 9<"$ROOT/scripts/setup.sh"
    flock 9
fi

install_system_packages
setup_python
log "done in $((SECONDS - START_S))s"
