# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Secrets out of every output: URLs without their secret part, results without header values or tokens.

Standard library only (modules, filters and action plugins use it). Two tools:

* ``redact_url``, ``redact_text`` and ``redact`` make what is *shown* safe (results files, messages, records);
* ``mask_in_module`` (from ``no_log_values``) adjusts an AnsibleModule's ``no_log_values``, so that Ansible
  masks exactly the secret parts of probe URLs and headers wherever they appear in its result, including
  ``invocation.module_args`` (which Ansible builds after the module's own code has run).
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "********"  # what Ansible shows for a no_log value

# Names of keys, query parameters and headers whose values are secrets.
SECRET_NAME = re.compile(
    r"(authori[sz]ation|passw(or)?d|passphrase|secret|token|api[-_]?key|apikey|access[-_]?key|private[-_]?key"
    r"|credential|cookie|session[-_]?id|signature|^sig$|^key$|^auth$|^x-auth)", re.I)
# Keys whose value is a mapping of HTTP headers: every value is masked, the header names are kept.
HEADER_KEYS = re.compile(r"(^|_)headers$", re.I)

# Webhook URLs whose path holds the secret: (host, path as (kept)(secret)(rest)); the first that matches counts.
WEBHOOK_PATHS = (
    (re.compile(r"(^|\.)hooks\.slack\.com$", re.I), re.compile(r"^(/services/[^/]+/[^/]+/)([^/]+)(.*)$")),
    (re.compile(r"(^|\.)hooks\.slack\.com$", re.I), re.compile(r"^(/(?:workflows|triggers)/(?:[^/]+/)*)([^/]+)()$")),
    (re.compile(r"(^|\.)discord(app)?\.com$", re.I), re.compile(r"^(/api/webhooks/[^/]+/)([^/]+)(.*)$")),
    (re.compile(r"\.webhook\.office\.com$", re.I), re.compile(r"^(/webhookb2/)(.+)()$")),
    # any other host: a long, random-looking segment right after /hooks/ or /webhook(s)/
    (re.compile(r""), re.compile(r"^(.*?/(?:hooks|webhooks?)/)([A-Za-z0-9_-]{16,})(.*)$")),
)

URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")
# "Bearer <token>" anywhere; "Basic <base64 of user:password>" only when it decodes to that shape.
BEARER_IN_TEXT = re.compile(r"\b(Bearer)\s+[^\s'\",;)}\]]+", re.I)
BASIC_IN_TEXT = re.compile(r"\b(Basic)\s+([A-Za-z0-9+/]{4,}={0,2})", re.I)

# A header value this short, under a name that does not look secret, is no secret (X-Debug: 1); Ansible would
# mask every number of the result that contains it (a latency of 12.5 for a value "1"), so it is not masked.
HARMLESS_LENGTH = 3


def _secret_params(text):
    """The values of the secret-looking parameters of a query (or fragment) string, as written."""
    found = []
    for pair in text.split("&"):
        name, sep, value = pair.partition("=")
        if sep and value and SECRET_NAME.search(unquote(name)):
            found.append(value)
    return found


def _mask_params(text):
    """``a=1&token=x`` -> ``a=1&token=********`` (the text as it was, only secret values replaced)."""
    parts = []
    for pair in text.split("&"):
        name, sep, value = pair.partition("=")
        parts.append(name + sep + MASK if sep and value and SECRET_NAME.search(unquote(name)) else pair)
    return "&".join(parts)


def _webhook(host, path):
    """The match of a webhook path's secret (groups: kept, secret, rest), or None."""
    for host_re, path_re in WEBHOOK_PATHS:
        if host_re.search(host or ""):
            found = path_re.match(path)
            if found:
                return found
    return None


def _userinfo(netloc):
    """``(shown userinfo, secret)`` of a netloc with ``@``: the password masked, or a lone user (a token) masked."""
    userinfo = netloc.rsplit("@", 1)[0]
    user, sep, password = userinfo.partition(":")
    if sep:
        return user + ":" + (MASK if password else ""), password
    return (MASK if user else ""), user


def redact_url(url):
    """``url`` without its secret parts: the password of ``user:password@`` (a lone user, often a token, is
    masked whole), secret-looking query and fragment parameters, and the secret path of webhook URLs (Slack,
    Discord, Teams and any long segment after ``/hooks/``). Anything that is not a string is returned as is."""
    if not isinstance(url, str) or "://" not in url:
        return url
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # not parsable: at least no userinfo
        return re.sub(r"://[^/@\s]*@", "://" + MASK + "@", url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = _userinfo(netloc)[0] + "@" + netloc.rsplit("@", 1)[1]
    path = parts.path
    hook = _webhook(host, path)
    if hook:
        path = hook.group(1) + MASK + hook.group(3)
    return urlunsplit((parts.scheme, netloc, path, _mask_params(parts.query), _mask_params(parts.fragment)))


def url_secrets(url):
    """The secret strings of a URL (its password or lone user, secret parameter values, a webhook's path
    secret), as written and percent-decoded: what ``redact_url`` hides."""
    if not isinstance(url, str) or "://" not in url:
        return set()
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        found = re.search(r"://([^/@\s]*)@", url)
        return {found.group(1)} if found and found.group(1) else set()
    found = set(_secret_params(parts.query) + _secret_params(parts.fragment))
    if "@" in parts.netloc:
        found.add(_userinfo(parts.netloc)[1])
    hook = _webhook(host, parts.path)
    if hook:
        found.add(hook.group(2))
    return {text for secret in found for text in (secret, unquote(secret)) if text}


def _basic(match):
    try:
        decoded = base64.b64decode(match.group(2), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return match.group(0)
    return "%s %s" % (match.group(1), MASK) if ":" in decoded else match.group(0)


def redact_text(text):
    """Free text (a message, a detail) with every URL in it redacted and Bearer/Basic credentials masked."""
    if not isinstance(text, str):
        return text
    text = URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
    text = BEARER_IN_TEXT.sub(lambda m: "%s %s" % (m.group(1), MASK), text)
    return BASIC_IN_TEXT.sub(_basic, text)


def _mask_all(value):
    """Every leaf of a secret value masked (the shape kept, so that people see that something was given)."""
    if isinstance(value, dict):
        return {k: _mask_all(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mask_all(v) for v in value]
    if value is None or isinstance(value, bool) or value == "":
        return value
    return MASK


def redact(value):
    """A copy of ``value`` (dicts, lists, strings...) safe to show: values of secret-looking keys and of
    ``headers`` mappings masked, URLs and Bearer/Basic credentials in strings redacted."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            name = str(key)
            if SECRET_NAME.search(name):
                out[key] = _mask_all(item)
            elif HEADER_KEYS.search(name) and isinstance(item, dict):
                out[key] = {h: _mask_all(v) for h, v in item.items()}
            else:
                out[key] = redact(item)
        return out
    if isinstance(value, (list, tuple)):
        return [redact(item) for item in value]
    return redact_text(value)


def no_log_values(probes):
    """``(add, keep)`` for a module's ``no_log_values``, given its validated probes.

    ``add``: the secret parts of the probes' URLs. ``keep``: what the spec's ``no_log`` masks but need not: the
    whole URLs (``no_log`` in the spec only so that a task refused by Ansible's validation shows none of them),
    and short header values under harmless names (masking them would turn every number containing them into
    text)."""
    add, keep, secret_headers = set(), set(), set()
    for probe in probes or []:
        for option in ("url", "prometheus_url"):
            if isinstance(probe.get(option), str):
                add |= url_secrets(probe[option])
                keep.add(probe[option])
        for name, value in (probe.get("headers") or {}).items():
            value = str(value)
            if SECRET_NAME.search(str(name)) or len(value) > HARMLESS_LENGTH:
                secret_headers.add(value)
            else:
                keep.add(value)
    return add, keep - secret_headers - add


def mask_in_module(module, probes):
    """Make ``module`` (an AnsibleModule) mask what is secret in these probes, and only that, in its result."""
    add, keep = no_log_values(probes)
    module.no_log_values.difference_update(keep)
    module.no_log_values.update(add)


def redact_argv(argv):
    """A command line (list of words) safe to show: the value of a secret-looking option (``--password x``,
    ``--token=x``, ``-p`` is left alone), of a ``NAME=value`` word with a secret-looking name, and the
    secret parts of URLs and Bearer/Basic credentials are masked."""
    shown, mask_next = [], False
    for word in argv:
        word = str(word)
        if mask_next:
            shown.append(MASK)
            mask_next = False
            continue
        name, sep, value = word.partition("=")
        if sep and value and SECRET_NAME.search(name.lstrip("-")):
            shown.append(name + sep + MASK)
        elif word.startswith("--") and not sep and SECRET_NAME.search(word[2:]):
            shown.append(word)
            mask_next = True
        else:
            shown.append(redact_text(word))
    return shown
