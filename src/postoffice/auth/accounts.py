"""The SASL lookup every protocol uses: an authentication identity to the stored credentials."""

from __future__ import annotations

from typing import Any

from postoffice.addresses import BadAddress, normalize_address
from postoffice.auth.passwords import Credentials


async def credentials_of(store: Any, identity: str) -> Credentials | None:
    """The credentials of the account `identity` names (any of its addresses, any case), or None."""
    try:
        account = await store.directory.find_account(normalize_address(identity))
    except BadAddress:
        return None
    return account.credentials if account else None
