"""Where the socket secrets come from: ``TRACKIT_SESSID`` / ``TRACKIT_AUTHORIZATION``,
else a TOML config file that only its owner can read.

The config file holds ``sessid = "..."`` and ``authorization = "..."``; environment
variables win over the file. Secrets never appear in ``repr``, logs or error messages
(:func:`redact` scrubs them from any text that came from outside, such as a server's
close reason). Each secret is registered with ``lake.redaction`` as soon as it is loaded,
so the log filter the command line installs masks any fragment of it in any log line.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ingest.errors import CredentialsError
from lake.redaction import redact, register_secret
from protocol.messages import AUTHORIZATION_ENV, SESSID_ENV

CONFIG_SESSID_KEY = "sessid"
CONFIG_AUTHORIZATION_KEY = "authorization"


@dataclass(frozen=True)
class Credentials:
    """The two secrets of the manual's authentication (kept out of ``repr``)."""

    sessid: str = field(repr=False)
    authorization: str = field(repr=False)

    def __post_init__(self) -> None:
        register_secret(self.sessid)
        register_secret(self.authorization)

    def redact(self, text: str) -> str:
        """``text`` with every fragment of a secret (6+ characters) replaced by ``***``."""
        return redact(text)


def read_config_file(path: Path) -> dict[str, str]:
    """The secrets in a TOML config file; refuse it if group or others can read it.

    Raises:
        CredentialsError: the file is missing, unreadable, unsafe or not TOML.
    """
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise CredentialsError(f"cannot read config file {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialsError(
            f"config file {path} is accessible by group/others (mode {stat.S_IMODE(mode):o}); "
            f"it holds secrets: run chmod 600 {path}"
        )
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        # The parser's message may quote a line of the file, which may hold a secret.
        raise CredentialsError(
            f"config file {path} is not valid TOML ({type(exc).__name__})"
        ) from None
    return {
        key: str(data[key])
        for key in (CONFIG_SESSID_KEY, CONFIG_AUTHORIZATION_KEY)
        if key in data
    }


def load_credentials(
    environ: Mapping[str, str] | None = None, config_path: Path | None = None
) -> Credentials:
    """The secrets from the environment, completed from ``config_path`` if given.

    Raises:
        CredentialsError: a secret is missing, or the config file is unsafe.
    """
    env = os.environ if environ is None else environ
    from_file = read_config_file(config_path) if config_path is not None else {}
    sessid = env.get(SESSID_ENV) or from_file.get(CONFIG_SESSID_KEY) or ""
    authorization = (
        env.get(AUTHORIZATION_ENV) or from_file.get(CONFIG_AUTHORIZATION_KEY) or ""
    )
    missing = [
        name
        for name, value in ((SESSID_ENV, sessid), (AUTHORIZATION_ENV, authorization))
        if not value
    ]
    if missing:
        raise CredentialsError(
            f"missing credentials: set {' and '.join(missing)} "
            "(or pass --config FILE with sessid/authorization, mode 600)"
        )
    return Credentials(sessid=sessid, authorization=authorization)
