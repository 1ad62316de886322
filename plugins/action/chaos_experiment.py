# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Load and validate experiment files on the controller, before any host is touched."""

from __future__ import annotations

import os

import yaml

from ansible.plugins.action import ActionBase
from ansible_collections.sutazai.chaos.plugins.module_utils._catalogue import NAME, run_spec, validate
from ansible_collections.sutazai.chaos.plugins.module_utils._safe_mode import limits_from_inventory
from ansible_collections.sutazai.chaos.plugins.modules.container_chaos import OWN_SPEC as CONTAINER_SPEC
from ansible_collections.sutazai.chaos.plugins.modules.custom_fault import OWN_SPEC as CUSTOM_SPEC
from ansible_collections.sutazai.chaos.plugins.modules.dns_chaos import OWN_SPEC as DNS_SPEC
from ansible_collections.sutazai.chaos.plugins.modules.http_chaos import OWN_SPEC as HTTP_SPEC
from ansible_collections.sutazai.chaos.plugins.modules.network_chaos import OWN_SPEC as NETWORK_SPEC
from ansible_collections.sutazai.chaos.plugins.modules.process_chaos import OWN_SPEC as PROCESS_SPEC
from ansible_collections.sutazai.chaos.plugins.modules.resource_stress import OWN_SPEC as STRESS_SPEC

FAULT_SPECS = {"container_chaos": CONTAINER_SPEC, "network_chaos": NETWORK_SPEC, "resource_stress": STRESS_SPEC,
               "process_chaos": PROCESS_SPEC, "http_chaos": HTTP_SPEC, "custom_fault": CUSTOM_SPEC,
               "dns_chaos": DNS_SPEC}
# The catalogue shipped with the collection (experiments/ at its root, in a checkout or an installed copy).
SHIPPED = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "experiments"))
OPTIONS = frozenset(("experiment", "experiment_dir", "dependency_map", "health_checks", "protected_services",
                     "safe_mode", "safe_mode_limits", "validate_only", "fail_on_problems"))


class CatalogueError(Exception):
    pass


def catalogue_files(directory):
    if not os.path.isdir(directory):
        raise CatalogueError("experiment_dir %s is not a folder" % directory)
    files = sorted(os.path.join(directory, f) for f in os.listdir(directory) if f.endswith((".yml", ".yaml")))
    if not files:
        raise CatalogueError("the catalogue %s holds no experiment files (*.yml)" % directory)
    return files


def resolve(experiment, directory):
    """'all', a name in the catalogue, or a path to a file anywhere."""
    if experiment == "all":
        return catalogue_files(directory)
    if experiment.endswith((".yml", ".yaml")):
        if not os.path.isfile(experiment):
            raise CatalogueError("experiment file %s does not exist" % experiment)
        return [experiment]
    if not NAME.match(experiment) or ".." in experiment:
        raise CatalogueError("%r is not an experiment name (letters, digits, '.', '_', '-'; no '/' or '..'): give a "
                             "name from %s, or a path to a .yml file to run a file outside the catalogue"
                             % (experiment, directory))
    for suffix in (".yml", ".yaml"):
        path = os.path.join(directory, experiment + suffix)
        if os.path.isfile(path):
            return [path]
    known = [os.path.splitext(os.path.basename(f))[0] for f in catalogue_files(directory)]
    raise CatalogueError("no experiment %r in %s; known: %s" % (experiment, directory, ", ".join(known)))


def load(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle), None
    except OSError as exc:
        return None, "cannot be read: %s" % exc.strerror
    except UnicodeDecodeError as exc:
        return None, "is not UTF-8 text (byte %d)" % exc.start
    except yaml.YAMLError as exc:
        return None, "is not valid YAML: %s" % str(exc).replace("\n", " ")


def shown(path):
    """A path as people wrote it: relative to the current folder when inside it."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = OPTIONS

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        experiment = str(args.get("experiment") or "").strip()
        directory = os.path.abspath(os.path.expanduser(str(args.get("experiment_dir") or SHIPPED)))
        inventory = {key: args.get(key) for key in ("dependency_map", "health_checks", "protected_services")}
        if not experiment:
            result.update(failed=True, msg="experiment is required: a name from %s, a path to a .yml file, or all. "
                                           "Nothing was run." % directory)
            return result
        try:
            files = resolve(experiment, directory)
        except CatalogueError as exc:
            result.update(failed=True, msg="%s. Nothing was run." % exc, problems=[str(exc)], experiments=[])
            return result
        limits = args.get("safe_mode_limits")
        if limits is None:
            found = limits_from_inventory(task_vars or {})
            limits = self._templar.template(found) if found else {}
        problems, experiments = [], []
        for path in files:
            data, error = load(path)
            stem = os.path.splitext(os.path.basename(path))[0]
            found = ["is empty"] if error is None and data is None else ([error] if error else validate(
                data, stem, FAULT_SPECS, inventory, bool(args.get("safe_mode")), limits))
            problems += ["%s: %s" % (shown(path), problem) for problem in found]
            if not found:
                experiments.append(run_spec(data, path))
        result.update(changed=False, experiments=experiments, problems=problems, files=files,
                      checked=len(files), valid=len(experiments))
        if problems and args.get("fail_on_problems", True):
            result.update(failed=True, msg="%d problem(s) in %d experiment file(s); nothing was run: %s"
                          % (len(problems), len(files), " | ".join(problems)))
        else:
            result["msg"] = "%d of %d experiment file(s) valid" % (len(experiments), len(files))
        return result
