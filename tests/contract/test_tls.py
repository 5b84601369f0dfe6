"""TLS and mutual TLS from certificate paths in settings."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from services.clients.mesh import MeshClient
from services.runtime.errors import DeadlineExceeded, Unavailable
from services.runtime.settings import RuntimeSettings
from tests.certs import make_pki
from tests.conftest import serve, shutdown

# A refused handshake surfaces as UNAVAILABLE, or as DEADLINE_EXCEEDED when the channel keeps
# reconnecting until the call's deadline; either way the call never reaches the service.
REFUSED = (Unavailable, DeadlineExceeded)


async def test_tls_serves_clients_that_trust_the_ca(
    settings: RuntimeSettings, tmp_path: Path
) -> None:
    pki = make_pki(tmp_path)
    served = await serve(replace(settings, tls_cert=pki.server_cert, tls_key=pki.server_key))
    try:
        trusting = replace(settings, tls_ca=pki.ca, default_timeout_s=5)
        async with MeshClient(trusting, address=served.address) as mesh:
            assert (await mesh.marketdata.list_symbols()).symbols == []
        async with MeshClient(replace(settings, default_timeout_s=2), served.address) as plain:
            with pytest.raises(REFUSED):
                await plain.marketdata.list_symbols()
    finally:
        await shutdown(served)


async def test_mutual_tls_requires_a_client_certificate(
    settings: RuntimeSettings, tmp_path: Path
) -> None:
    pki = make_pki(tmp_path)
    served = await serve(
        replace(settings, tls_cert=pki.server_cert, tls_key=pki.server_key, tls_client_ca=pki.ca)
    )
    try:
        with_cert = replace(
            settings,
            tls_ca=pki.ca,
            tls_client_cert=pki.client_cert,
            tls_client_key=pki.client_key,
            default_timeout_s=5,
        )
        async with MeshClient(with_cert, address=served.address) as mesh:
            assert (await mesh.marketdata.list_symbols()).symbols == []
        without_cert = replace(settings, tls_ca=pki.ca, default_timeout_s=2)
        async with MeshClient(without_cert, address=served.address) as mesh:
            with pytest.raises(REFUSED):
                await mesh.marketdata.list_symbols()
    finally:
        await shutdown(served)
