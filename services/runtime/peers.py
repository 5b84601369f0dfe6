"""Where a hosted service finds the other services it calls.

Services hosted in the same process are reached on the server's own port once it is bound (so an
embedded mesh on port 0 works); every other service at the address settings give it
(`QUANTMESH_<SERVICE>_ADDRESS`, else `QUANTMESH_ADDRESS`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from services.runtime.errors import Unavailable
from services.runtime.settings import RuntimeSettings


class Peers:
    def __init__(
        self,
        settings: RuntimeSettings,
        local: Iterable[str] = (),
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.local = frozenset(local)
        self._environ = environ
        self._bound: str | None = None

    def bind(self, address: str) -> None:
        """Record the address the hosting server listens on (called once it is bound)."""
        self._bound = address

    def address_for(self, service: str) -> str:
        if service in self.local:
            if self._bound is None:
                raise Unavailable(f"{service} is hosted here but the server has not started yet")
            return self._bound
        return self.settings.address_for(service, self._environ)

    def configured(self, service: str) -> bool:
        """Whether `service` is hosted here or has an address of its own in settings."""
        environ = os.environ if self._environ is None else self._environ
        return service in self.local or bool(environ.get(f"QUANTMESH_{service.upper()}_ADDRESS"))
