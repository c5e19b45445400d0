"""`loki doctor`: one JSON line per check, on a real audio server and X display."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _doctor(tmp_path: Path, **extra: str) -> tuple[int, dict[str, dict]]:
    env = {
        **os.environ,
        "LOKI_STATE_DIR": str(tmp_path / "state"),
        "LOKI_USER_PROFILES_DIR": str(tmp_path / "profiles"),
        "LOKI_LLM_BACKEND": "none",
        **extra,
    }
    out = subprocess.run(
        [sys.executable, "-m", "loki", "--env-file", "/dev/null", "doctor", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=90,
    )
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert all(set(line) == {"check", "ok", "detail"} for line in lines), lines
    return out.returncode, {line["check"]: line for line in lines}


@pytest.mark.audio
@pytest.mark.x11
def test_doctor_on_a_working_desktop(pulse: dict[str, str], xserver: str, a11y: str, tmp_path: Path) -> None:
    code, checks = _doctor(tmp_path, LOKI_PTT_KEY="f9")
    assert list(checks) == [
        "microphone",
        "speaker",
        "display",
        "models",
        "wake word",
        "push-to-talk",
        "profiles",
        "llm",
        "screen",
        "accessibility",
        "ocr",
        "permissions",
    ]
    for name in checks:
        if name == "models":
            continue
        assert checks[name]["ok"], checks[name]
    assert "Input devices:" in checks["microphone"]["detail"]
    assert "Output devices:" in checks["speaker"]["detail"]
    assert code == (0 if checks["models"]["ok"] else 1)


@pytest.mark.audio
def test_doctor_names_a_missing_microphone_and_lists_the_real_ones(pulse: dict[str, str], tmp_path: Path) -> None:
    code, checks = _doctor(tmp_path, LOKI_MIC_DEVICE="no-such-mic", DISPLAY="")
    assert code == 1
    mic = checks["microphone"]
    assert not mic["ok"] and "no-such-mic" in mic["detail"] and "pulse" in mic["detail"]
    assert not checks["display"]["ok"]
