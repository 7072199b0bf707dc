"""docs/DEPLOY.md's systemd units, environment file and backup cron line, run as written (issue 18).

The blocks are read out of the document itself, with only the install paths replaced by this
checkout's and a temporary folder's, so the text a deployer copies is the text tested.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = (ROOT / "docs" / "DEPLOY.md").read_text()


def _block(after: str, lang: str) -> str:
    """The first ```lang block after the line that names `after`."""
    start = DEPLOY.index(after)
    match = re.compile(rf"```{lang}\n(.*?)```", re.S).search(DEPLOY, start)
    assert match, f"no {lang} block after {after}"
    return match.group(1)


def _systemd_env(text: str) -> dict[str, str]:
    """An EnvironmentFile as systemd reads it (systemd.exec(5)): lines starting with # or ; are
    comments; an unquoted value keeps its interior whitespace and any "#" — no inline comments."""
    env = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;" or "=" not in line:
            continue
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        env[key.strip()] = value
    return env


def test_the_environment_file_means_the_same_to_systemd_and_to_sh():
    """Before: `DATABASE_URL=sqlite:////… # or postgresql://…` — systemd keeps "# or …" in the value."""
    env = _systemd_env(_block("`/etc/thuhoach/env`", "sh"))
    assert {"DATABASE_URL", "THUHOACH_DATA_DIR", "SECRET_KEY", "THUHOACH_INDEXER_IN_PROCESS"} <= set(env)
    for key, value in env.items():
        assert "#" not in value and "  " not in value, f"{key}={value!r}: systemd keeps inline comments"
    assert env["THUHOACH_INDEXER_IN_PROCESS"] == "0"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
@pytest.mark.parametrize("unit", ["thuhoach-web.service", "thuhoach-worker.service"])
def test_the_systemd_units_verify_and_restart_on_their_own(unit, tmp_path):
    text = _block(f"`/etc/systemd/system/{unit}`", "ini")
    assert re.search(r"^Restart=always$", text, re.M) and re.search(r"^UMask=0077$", text, re.M)
    (tmp_path / "env").write_text("")
    path = tmp_path / unit
    path.write_text(text.replace("/opt/thuhoach", str(ROOT)).replace("/etc/thuhoach/env", str(tmp_path / "env")))
    result = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60)
    problems = [line for line in result.stderr.splitlines() if str(path) in line or "not executable" in line]
    assert result.returncode == 0 and not problems, result.stderr


def test_the_backup_cron_line_writes_a_private_archive_and_keeps_14_days(app, app_config, tmp_path, make_user):
    from lms.models import Role

    make_user(Role.admin)
    line = _block("Nightly backup", "cron").strip()
    schedule, command = line.split(None, 5)[:5], line.split(None, 5)[5]
    assert schedule == ["30", "2", "*", "*", "*"]
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o700)
    old = backups / "thuhoach-20200101.tar.gz"
    old.write_bytes(b"old")
    os.utime(old, (time.time() - 20 * 86400,) * 2)
    env_file = tmp_path / "env"
    env_file.write_text(f"DATABASE_URL={app_config['DATABASE_URL']}\nTHUHOACH_DATA_DIR={app_config['DATA_DIR']}\n"
                        "SECRET_KEY=test-secret\nTHUHOACH_INDEXER_IN_PROCESS=0\n")
    # cron turns "\%" into "%"; the rest runs under /bin/sh as cron would.
    command = (command.replace("\\%", "%").replace("/opt/thuhoach", str(ROOT))
               .replace("/etc/thuhoach/env", str(env_file)).replace("/var/backups/thuhoach", str(backups)))
    result = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, timeout=300,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    made = [p for p in backups.iterdir() if p.name.startswith("thuhoach-") and p != old]
    assert len(made) == 1 and made[0].stat().st_mode & 0o777 == 0o600
    assert not old.exists()  # older than 14 days
