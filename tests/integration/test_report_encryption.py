# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Encrypted results: one real experiment with chaos_report_encrypt leaves only Ansible Vault files (the result,
its reports, the run journal), each 0600, opened by `ansible-vault view`; the report playbook reads them back
with the password file and writes its page encrypted too; a wrong password is a clear error. No plain copy of
the result is left anywhere in the report folder.
"""

from __future__ import annotations

import json
import subprocess

from conftest import REPO, VENV_BIN, active_entries, ansible_env
from test_run_experiment import demo_stack, playbook  # noqa: F401 pylint: disable=unused-import

PASSWORD = "correct horse battery staple"


def vault_view(path, password_file):
    return subprocess.run([str(VENV_BIN / "ansible-vault"), "view", "--vault-password-file", str(password_file),
                           str(path)], cwd=REPO, env=ansible_env({}), capture_output=True, text=True, check=False)


def test_an_encrypted_run_leaves_only_vault_files_that_ansible_vault_opens(demo_stack, state_dir, tmp_path):  # noqa: F811 pylint: disable=redefined-outer-name
    password_file = tmp_path / "vault-password"
    password_file.write_text(PASSWORD + "\n")
    folder = tmp_path / "results"
    run = playbook("container_chaos.yml", "-e", "container_chaos_action=pause", "-e", "container_chaos_duration=2",
                   "-e", '{"container_chaos_services": ["backend"]}', "-e", "chaos_report_encrypt=true",
                   "-e", "chaos_report_vault_password_file=%s" % password_file, state_dir=state_dir,
                   report_dir=folder)
    assert run.returncode == 0, run.stdout[-4000:]
    assert active_entries(state_dir) == []
    files = sorted(p.name for p in folder.iterdir())
    (result_name,) = [n for n in files if n.endswith(".json") and not n.startswith("journal-")]
    experiment_id = result_name[:-len(".json")]
    assert {experiment_id + ".html", experiment_id + ".md"} <= set(files)
    assert any(n.startswith("journal-") for n in files), files
    for name in files:
        raw = (folder / name).read_bytes()
        assert raw.startswith(b"$ANSIBLE_VAULT;1.") and b"sutazai-demo_backend_1" not in raw, name
        assert (folder / name).stat().st_mode & 0o777 == 0o600, name
    assert PASSWORD not in run.stdout + run.stderr

    opened = vault_view(folder / result_name, password_file)
    assert opened.returncode == 0, opened.stderr
    result = json.loads(opened.stdout)
    assert (result["experiment_id"], result["verdict"]) == (experiment_id, "PASS")
    assert [hit["target"] for hit in result["hit"]] == ["sutazai-demo_backend_1"]
    page = vault_view(folder / (experiment_id + ".html"), password_file)
    assert page.returncode == 0 and "fault-band" in page.stdout and experiment_id in page.stdout
    journal = [n for n in files if n.startswith("journal-")][0]
    opened = vault_view(folder / journal, password_file)
    assert opened.returncode == 0 and json.loads(opened.stdout)["experiments"][0]["experiment_id"] == experiment_id

    # The report playbook reads them back, and what it writes is encrypted too.
    env = ansible_env({"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default"})
    argv = [str(VENV_BIN / "ansible-playbook"), "playbooks/report.yml", "-e", "report_dir=%s" % folder]
    report = subprocess.run(argv + ["-e", "vault_password_file=%s" % password_file], cwd=REPO, env=env,
                            capture_output=True, text=True, check=False)
    assert report.returncode == 0, report.stdout[-3000:]
    assert "1 result(s)" in report.stdout, report.stdout[-2000:]
    index = (folder / "index.html").read_bytes()
    assert index.startswith(b"$ANSIBLE_VAULT;1.") and (folder / "index.html").stat().st_mode & 0o777 == 0o600
    assert experiment_id in vault_view(folder / "index.html", password_file).stdout

    # Without the password, or with a wrong one: a clear error, and nothing new is written.
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    blind = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    wrong_file = tmp_path / "wrong"
    wrong_file.write_text("not it\n")
    wrong = subprocess.run(argv + ["-e", "vault_password_file=%s" % wrong_file], cwd=REPO, env=env,
                           capture_output=True, text=True, check=False)
    assert blind.returncode != 0 and "give the vault password file" in blind.stdout.replace("\n", " "), blind.stdout[-2000:]
    assert wrong.returncode != 0 and "could not be decrypted" in wrong.stdout.replace("\n", " "), wrong.stdout[-2000:]
    after = {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if not p.name.startswith("journal-")}
    assert after == {n: t for n, t in before.items() if not n.startswith("journal-")}
