# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Safe mode, one meaning everywhere: the limits a fault must stay within, and every limit it breaks.

Used by the experiment lifecycle (with the planned targets) and by the catalogue validator (before any
host is known). Pure Python: no Ansible, no host.
"""

from __future__ import annotations

import re

# The defaults of the inventory variables chaos_safe_mode_* (README: "Safe mode").
DEFAULT_LIMITS = {
    "max_targets": 1,
    "max_duration": 60,
    "max_loss_percent": 50,
    "max_cpu_load": 80,
    "max_cpu_workers": 2,
    "max_memory_percent": 50,
    "max_disk_fill_bytes": 256 * 1024 * 1024,
}

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}


INVENTORY_PREFIX = "chaos_safe_mode_"


def limits_from_inventory(variables):
    """The limits the inventory sets as chaos_safe_mode_<limit> (e.g. chaos_safe_mode_max_duration)."""
    return {key: variables[INVENTORY_PREFIX + key] for key in DEFAULT_LIMITS if INVENTORY_PREFIX + key in variables}


def limits_with(overrides):
    """DEFAULT_LIMITS with the inventory's values (None or missing keeps the default)."""
    limits = dict(DEFAULT_LIMITS)
    for key, value in (overrides or {}).items():
        if value is not None and value != "":
            # -e chaos_safe_mode_max_duration=30 arrives as the string '30'
            number = float(value)
            limits[key] = int(number) if number == int(number) else number
    return limits


def size_in_bytes(value):
    """'256M', '1g', 1048576 -> bytes; None when it is not a size (a percentage, say)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    match = _SIZE.match(str(value))
    if not match:
        return None
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def _container_limits(args, limits):
    broken = []
    action = args.get("action", "kill")
    if action in ("stop", "pause") and args.get("duration") in (None, ""):
        broken.append("a %s without duration does not revert by itself" % action)
    return broken


def _network_limits(args, limits):
    broken = []
    loss = (args.get("loss") or {}).get("percent")
    if loss is not None and float(loss) > limits["max_loss_percent"]:
        broken.append("loss %s%% is above the safe-mode cap of %s%%" % (loss, limits["max_loss_percent"]))
    partition = args.get("partition") or {}
    if partition and args.get("protect_control_channel") is False:
        broken.append("a partition that may cut the control channel (protect_control_channel: false)")
    return broken


def _stress_limits(args, limits):
    broken = []
    cpu = args.get("cpu")
    if cpu is not None:
        cpu = cpu or {}
        load = float(cpu["load"]) if cpu.get("load") is not None else 100.0
        workers = int(cpu.get("workers") or 1)
        if load > limits["max_cpu_load"]:
            broken.append("CPU load %s%% is above the safe-mode cap of %s%%" % (load, limits["max_cpu_load"]))
        if workers > limits["max_cpu_workers"]:
            broken.append("%s CPU workers are more than the safe-mode cap of %s" % (workers, limits["max_cpu_workers"]))
    memory = args.get("memory")
    if memory is not None:
        percent = (memory or {}).get("percent")
        if percent is None or float(percent) > limits["max_memory_percent"]:
            broken.append("memory must be a percent of the container's limit, at most %s%%, in safe mode (got %s)"
                          % (limits["max_memory_percent"], memory))
    fill = args.get("disk_fill")
    if fill is not None:
        size = (fill or {}).get("size")
        fill_bytes = size_in_bytes(size) if size is not None else None
        if fill_bytes is None or fill_bytes > limits["max_disk_fill_bytes"]:
            broken.append("disk fill must be a size of at most %s bytes in safe mode (got %s)"
                          % (limits["max_disk_fill_bytes"], fill))
    return broken


def _process_limits(args, limits):
    broken = []
    if args.get("allow_pid1"):
        broken.append("allow_pid1 hits a container's main process: safe mode leaves that to container_chaos")
    if args.get("action", "kill") == "stop" and args.get("duration") in (None, ""):
        broken.append("a stop without duration does not revert by itself")
    return broken


def _custom_limits(_args, _limits):
    return ["a custom fault runs your own commands, which safe mode cannot bound"]


FAULT_LIMITS = {
    "container_chaos": _container_limits,
    "network_chaos": _network_limits,
    "resource_stress": _stress_limits,
    "process_chaos": _process_limits,
    # An HTTP or DNS fault is bounded like a partition: by its duration and its targets (checked for every fault).
    "http_chaos": lambda args, limits: [],
    "dns_chaos": lambda args, limits: [],
    "custom_fault": _custom_limits,
}


def violations(module, args, limits=None, targets=None, protection_lifted=None):
    """Every safe-mode limit the fault breaks, as sentences (empty: it may run in safe mode).

    ``targets`` is the number of planned targets when known (None before planning).
    """
    limits = limits_with(limits)
    args = args or {}
    broken = []
    duration = args.get("duration")
    if duration not in (None, "") and float(duration) > limits["max_duration"]:
        broken.append("duration %s s is longer than the safe-mode maximum of %s s" % (duration, limits["max_duration"]))
    if targets is not None and targets > limits["max_targets"]:
        broken.append("%s targets planned, safe mode allows %s" % (targets, limits["max_targets"]))
    select = args.get("select") or {}
    if targets is None and select.get("mode", "all") == "count" and (select.get("value") or 0) > limits["max_targets"]:
        broken.append("select asks for %s targets, safe mode allows %s" % (select.get("value"), limits["max_targets"]))
    if protection_lifted:
        broken.append("the protection of %s is lifted: safe mode never touches a protected service"
                      % ", ".join(sorted(protection_lifted)))
    check = FAULT_LIMITS.get(module)
    if check is None:
        broken.append("fault module %s has no safe-mode limits: it cannot run in safe mode" % module)
    else:
        broken.extend(check(args, limits))
    return broken
