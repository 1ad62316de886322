# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller-side helpers of the chaos_experiment action: which files, read how, shown how."""

from __future__ import annotations

import os
import re

import pytest

from ansible_collections.sutazai.chaos.plugins.action.chaos_experiment import (
    FAULT_SPECS,
    SHIPPED,
    ActionModule,
    CatalogueError,
    catalogue_files,
    load,
    resolve,
    shown,
)
from ansible_collections.sutazai.chaos.plugins.module_utils._catalogue import KINDS

import action_runner  # noqa: E402,I001 (tests/unit/plugins/action/action_runner.py)

PAUSE = """---
name: backend-pause
description: Freeze the backend.
kind: container
targets: {services: [backend]}
fault: {action: pause}
duration: 8
"""


@pytest.fixture
def catalogue(tmp_path):
    """A catalogue folder with two experiments, one .yaml, and files that are not experiments."""
    folder = tmp_path / "experiments"
    folder.mkdir()
    (folder / "backend-pause.yml").write_text(PAUSE, encoding="utf-8")
    (folder / "redis-crash.yml").write_text("name: redis-crash\n", encoding="utf-8")
    (folder / "cpu.v2.yaml").write_text("name: cpu.v2\n", encoding="utf-8")
    (folder / "README.md").write_text("# not an experiment\n", encoding="utf-8")
    (folder / "notes.yml.bak").write_text("x: 1\n", encoding="utf-8")
    return folder


# --- catalogue_files --------------------------------------------------------------------------------------------

def test_catalogue_files_sorted_yml_and_yaml_only(catalogue):
    assert catalogue_files(str(catalogue)) == [str(catalogue / name) for name in
                                               ("backend-pause.yml", "cpu.v2.yaml", "redis-crash.yml")]


def test_catalogue_files_empty_folder(tmp_path):
    (tmp_path / "README.md").write_text("nothing here\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"^the catalogue %s holds no experiment files \(\*\.yml\)$"
                       % re.escape(str(tmp_path))):
        catalogue_files(str(tmp_path))


@pytest.mark.parametrize("make", ["missing", "file"])
def test_catalogue_files_not_a_folder(tmp_path, make):
    path = tmp_path / "experiments"
    if make == "file":
        path.write_text("x: 1\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"^experiment_dir %s is not a folder$" % re.escape(str(path))):
        catalogue_files(str(path))


def test_the_shipped_catalogue_is_found():
    files = catalogue_files(SHIPPED)
    assert os.path.basename(os.path.dirname(files[0])) == "experiments"
    assert "redis-crash.yml" in [os.path.basename(f) for f in files]


def test_fault_specs_are_the_modules_own():
    assert sorted(FAULT_SPECS) == sorted(module for module in KINDS.values() if module)  # one per fault kind
    assert "action" in FAULT_SPECS["container_chaos"]


# --- resolve ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, file_name", [
    ("backend-pause", "backend-pause.yml"),
    ("redis-crash", "redis-crash.yml"),
    ("cpu.v2", "cpu.v2.yaml"),
])
def test_resolve_a_name(catalogue, name, file_name):
    assert resolve(name, str(catalogue)) == [str(catalogue / file_name)]


def test_resolve_a_name_prefers_yml(catalogue):
    (catalogue / "backend-pause.yaml").write_text(PAUSE, encoding="utf-8")
    assert resolve("backend-pause", str(catalogue)) == [str(catalogue / "backend-pause.yml")]


def test_resolve_all(catalogue):
    assert resolve("all", str(catalogue)) == catalogue_files(str(catalogue))


def test_resolve_all_in_an_empty_folder(tmp_path):
    with pytest.raises(CatalogueError, match="holds no experiment files"):
        resolve("all", str(tmp_path))


@pytest.mark.parametrize("relative", [False, True])
def test_resolve_a_path_anywhere(catalogue, tmp_path, monkeypatch, relative):
    elsewhere = tmp_path / "mine"
    elsewhere.mkdir()
    (elsewhere / "my-test.yaml").write_text(PAUSE, encoding="utf-8")
    if relative:
        monkeypatch.chdir(tmp_path)
        assert resolve(os.path.join("mine", "my-test.yaml"), str(catalogue)) == [os.path.join("mine", "my-test.yaml")]
    else:
        assert resolve(str(elsewhere / "my-test.yaml"), str(catalogue)) == [str(elsewhere / "my-test.yaml")]


def test_resolve_a_path_with_dots_is_a_path(catalogue, monkeypatch):
    # a .yml path may name a file outside the catalogue on purpose: '..' is refused only in names
    monkeypatch.chdir(catalogue)
    assert resolve("../experiments/redis-crash.yml", "/nowhere") == ["../experiments/redis-crash.yml"]


@pytest.mark.parametrize("path", ["/no/such/file.yml", "missing.yaml"])
def test_resolve_a_missing_path(catalogue, path):
    with pytest.raises(CatalogueError, match=r"^experiment file %s does not exist$" % re.escape(path)):
        resolve(path, str(catalogue))


@pytest.mark.parametrize("name", ["..", "../secret", "a..b", "..hidden", "sub/backend-pause", "/etc/passwd",
                                  "-rf", ".hidden", "back end", "name;rm", ""])
def test_resolve_refuses_what_is_not_a_name(catalogue, name):
    with pytest.raises(CatalogueError) as caught:
        resolve(name, str(catalogue))
    message = str(caught.value)
    assert message.startswith("%r is not an experiment name (letters, digits, '.', '_', '-'; no '/' or '..')" % name)
    assert str(catalogue) in message


def test_resolve_does_not_leave_the_catalogue_by_name(tmp_path):
    (tmp_path / "secret.yml").write_text("name: secret\n", encoding="utf-8")
    inner = tmp_path / "experiments"
    inner.mkdir()
    (inner / "a.yml").write_text("name: a\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match="is not an experiment name"):
        resolve("../secret", str(inner))


def test_resolve_a_missing_name_lists_the_known_ones(catalogue):
    with pytest.raises(CatalogueError) as caught:
        resolve("redis-crush", str(catalogue))
    assert str(caught.value) == "no experiment 'redis-crush' in %s; known: backend-pause, cpu.v2, redis-crash" % catalogue


def test_resolve_a_name_in_an_empty_catalogue(tmp_path):
    with pytest.raises(CatalogueError, match="holds no experiment files"):
        resolve("backend-pause", str(tmp_path))


def test_resolve_a_name_in_a_missing_catalogue(tmp_path):
    with pytest.raises(CatalogueError, match="is not a folder"):
        resolve("backend-pause", str(tmp_path / "nowhere"))


# --- load -------------------------------------------------------------------------------------------------------

def test_load_an_experiment(catalogue):
    data, error = load(str(catalogue / "backend-pause.yml"))
    assert error is None
    assert data["name"] == "backend-pause" and data["fault"] == {"action": "pause"}


@pytest.mark.parametrize("text, data", [
    ("", None),
    ("---\n", None),
    ("# only a comment\n", None),
    ("just some words\n", "just some words"),
    ("- a\n- b\n", ["a", "b"]),
])
def test_load_what_is_not_a_mapping_is_returned_as_it_is(tmp_path, text, data):
    path = tmp_path / "x.yml"
    path.write_text(text, encoding="utf-8")
    assert load(str(path)) == (data, None)


@pytest.mark.parametrize("text", ["name: [unclosed\n", "a: b: c\n", "key: 'open\n", "a:\n  - b\n c: d\n",
                                  "x: !!python/object:os.system ls\n"])
def test_load_a_non_yaml_file(tmp_path, text):
    path = tmp_path / "broken.yml"
    path.write_text(text, encoding="utf-8")
    data, error = load(str(path))
    assert data is None
    assert error.startswith("is not valid YAML: ")
    assert "\n" not in error


def test_load_a_missing_file(tmp_path):
    assert load(str(tmp_path / "gone.yml")) == (None, "cannot be read: No such file or directory")


def test_load_a_folder(tmp_path):
    folder = tmp_path / "folder.yml"
    folder.mkdir()
    assert load(str(folder)) == (None, "cannot be read: Is a directory")


@pytest.mark.parametrize("content", [b"name: caf\xe9\n", b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe"], ids=["latin-1", "png"])
def test_load_a_file_that_is_not_utf8(tmp_path, content):
    path = tmp_path / "binary.yml"
    path.write_bytes(content)
    data, error = load(str(path))
    assert data is None and error


# --- shown ------------------------------------------------------------------------------------------------------

def test_shown_inside_the_current_folder_is_relative(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert shown(str(tmp_path / "experiments" / "a.yml")) == os.path.join("experiments", "a.yml")
    assert shown(str(tmp_path / "a.yml")) == "a.yml"


def test_shown_outside_the_current_folder_is_as_given(tmp_path, monkeypatch):
    inside = tmp_path / "work"
    inside.mkdir()
    monkeypatch.chdir(inside)
    assert shown(str(tmp_path / "other" / "a.yml")) == str(tmp_path / "other" / "a.yml")
    assert shown("/etc/chaos/a.yml") == "/etc/chaos/a.yml"


def test_shown_a_relative_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert shown("experiments/./a.yml") == os.path.join("experiments", "a.yml")


# --- run, with a stand-in task ----------------------------------------------------------------------------------

def run_action(**args):
    return action_runner.run_action(ActionModule, "chaos_experiment", **args)


INVENTORY = {"dependency_map": {"backend": [], "redis": []}, "health_checks": {}, "protected_services": []}


def test_run_a_valid_name(catalogue, monkeypatch):
    monkeypatch.chdir(catalogue.parent)
    result = run_action(experiment="backend-pause", experiment_dir=str(catalogue), **INVENTORY)
    assert not result.get("failed"), result
    assert (result["checked"], result["valid"], result["problems"]) == (1, 1, [])
    assert result["experiments"][0]["lifecycle_fault"]["args"] == {"action": "pause", "duration": 8}


def test_run_all_names_each_problem_by_its_shown_path(catalogue, monkeypatch):
    monkeypatch.chdir(catalogue.parent)
    (catalogue / "empty.yml").write_text("", encoding="utf-8")
    result = run_action(experiment="all", experiment_dir=str(catalogue), **INVENTORY)
    assert result["failed"] is True
    assert result["checked"] == 4 and result["valid"] == 1
    assert "experiments/empty.yml: is empty" in result["problems"]
    assert "experiments/redis-crash.yml: description: missing (required)" in result["problems"]
    assert result["msg"].startswith("%d problem(s) in 4 experiment file(s); nothing was run: " % len(result["problems"]))


def test_run_problems_without_failing(catalogue):
    result = run_action(experiment="all", experiment_dir=str(catalogue), fail_on_problems=False, **INVENTORY)
    assert not result.get("failed")
    assert result["msg"] == "1 of 3 experiment file(s) valid"


@pytest.mark.parametrize("experiment, message", [
    ("", "experiment is required: a name from %s, a path to a .yml file, or all. Nothing was run."),
    ("../x", "'../x' is not an experiment name"),
    ("nope", "no experiment 'nope' in %s; known: backend-pause, cpu.v2, redis-crash. Nothing was run."),
])
def test_run_refuses_before_reading(catalogue, experiment, message):
    result = run_action(experiment=experiment, experiment_dir=str(catalogue))
    assert result["failed"] is True
    assert result["msg"].startswith(message.replace("%s", str(catalogue)))
