"""Which HTTP proxy a registry request goes through, by Go's rules (hence Docker's):
`HTTPS_PROXY` for https and `HTTP_PROXY` for http (upper case first, then lower), never for
`localhost` or a loopback address, and not for a host `NO_PROXY` names. NO_PROXY is a comma
list of `*`, host names (`example.com` also covers its subdomains, `.example.com` only them),
IP addresses, CIDR ranges and `host:port` entries."""

from __future__ import annotations

import ipaddress
import os
import urllib.parse
from collections.abc import Mapping


def _split(host: str) -> tuple[str, str]:
    """`host[:port]` or `[v6]:port` as (name, port or "")."""
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        return name.lower(), rest.lstrip(":")
    name, _, port = host.partition(":") if host.count(":") == 1 else (host, "", "")
    return name.lower(), port


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def _environment(names: tuple[str, ...], env: Mapping[str, str]) -> str:
    return next((env[name] for name in names if env.get(name)), "")


def bypasses(host: str, no_proxy: str) -> bool:
    """Whether `host` (host[:port]) is one that `no_proxy` exempts."""
    name, port = _split(host)
    address = _ip(name)
    for entry in (item.strip().lower() for item in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        if "/" in entry and address is not None:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        entry_name, entry_port = _split(entry)
        if entry_port and entry_port != port:
            continue
        if address is not None or _ip(entry_name) is not None:
            if _ip(entry_name) == address:
                return True
            continue
        if entry_name.startswith("."):
            if name.endswith(entry_name):
                return True
        elif name == entry_name or name.endswith("." + entry_name):
            return True
    return False


def proxy_for(
    scheme: str, host: str, env: Mapping[str, str] | None = None
) -> urllib.parse.SplitResult | None:
    """The proxy to reach `scheme://host` through, or None to connect directly."""
    env = os.environ if env is None else env
    name, _ = _split(host)
    address = _ip(name)
    if name == "localhost" or (address is not None and address.is_loopback):
        return None
    if bypasses(host, _environment(("NO_PROXY", "no_proxy"), env)):
        return None
    names = ("HTTPS_PROXY", "https_proxy") if scheme == "https" else ("HTTP_PROXY", "http_proxy")
    proxy = _environment(names, env)
    if not proxy:
        return None
    return urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
