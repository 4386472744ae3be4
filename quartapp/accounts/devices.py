"""Where a login came from, in words: its browser and system, and its address with the
last part hidden (enough for a person to recognise, not to locate)."""

from __future__ import annotations

import ipaddress
import re

USER_AGENT_KEPT = 300  # characters of a User-Agent header stored with a login

# (pattern, name): the first that matches wins, so the browsers built on others come first.
_BROWSERS = (
    (re.compile(r"\bEdg(?:e|A|iOS)?/"), "Edge"),
    (re.compile(r"\b(?:OPR|Opera)/"), "Opera"),
    (re.compile(r"\bSamsungBrowser/"), "Samsung Internet"),
    (re.compile(r"\bVivaldi/"), "Vivaldi"),
    (re.compile(r"\b(?:Firefox|FxiOS)/"), "Firefox"),
    (re.compile(r"\b(?:Chrome|CriOS|Chromium|HeadlessChrome)/"), "Chrome"),
    (re.compile(r"\bVersion/[\d.]+.*\bSafari/"), "Safari"),
    (re.compile(r"\bcurl/"), "curl"),
)
_SYSTEMS = (
    (re.compile(r"\b(?:iPhone|iPad|iPod)\b"), "iOS"),
    (re.compile(r"\bAndroid\b"), "Android"),
    (re.compile(r"\bCrOS\b"), "ChromeOS"),
    (re.compile(r"\bWindows\b"), "Windows"),
    (re.compile(r"\bMac OS X\b|\bMacintosh\b"), "macOS"),
    (re.compile(r"\bLinux\b|\bX11\b"), "Linux"),
)


def describe_user_agent(user_agent: str | None) -> str:
    """ "Firefox on Linux", "Safari on iOS", or as much of it as is known."""
    text = user_agent or ""
    browser = next((name for pattern, name in _BROWSERS if pattern.search(text)), None)
    system = next((name for pattern, name in _SYSTEMS if pattern.search(text)), None)
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return f"{browser or 'A browser'}{' on ' + system if system else ''}"
    return "An unknown browser"


def masked_address(address: str | None) -> str:
    """203.0.113.x; 2001:db8:1:2::x (the /64 a household gets); or as given, unknown."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv4Address):
        return ".".join(str(ip).split(".")[:3]) + ".x"
    network = ipaddress.IPv6Network((ip, 64), strict=False)
    return f"{network.network_address.compressed.rstrip(':')}::x"
