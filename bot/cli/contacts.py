"""`partnerline contacts export --format toml`: the contacts staff made at runtime, as the
`[[clients.contacts]]` entries of the configuration file, for an operator who wants them there.

Each client's entries come under a comment naming it: paste them below that client's
`[[clients]]` table. A contact holds one address per channel in the file; more are listed in
a comment. Contacts moved into the file become the file's at the next start (or reload).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # nothing heavy at import: `partnerline --help` stays fast
    from storage.contacts import ContactView


def add_contacts_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="contacts_command", required=True)
    export = sub.add_parser("export", help="print the contacts made at runtime")
    export.add_argument("--format", choices=["toml"], default="toml", help="toml (the default)")
    export.set_defaults(func=cmd_contacts_export)


def cmd_contacts_export(args: argparse.Namespace) -> int:
    from bot.cli.common import require_migrated
    from bot.settings import Settings
    from storage.contacts import ContactRepository
    from storage.db import Database

    settings = Settings()
    require_migrated(settings, why=" (the contacts are read from it)")
    db = Database(settings.database_url)
    try:
        with db.read_session() as session:
            contacts = ContactRepository(session).runtime()
    finally:
        db.dispose()
    print(contacts_toml(contacts), end="")
    return 0


def _string(text: str) -> str:
    # A JSON string is a TOML basic string: the same quotes and escapes.
    return json.dumps(text, ensure_ascii=False)


def contacts_toml(contacts: Sequence[ContactView]) -> str:
    """`[[clients.contacts]]` entries, grouped under a comment per client."""
    if not contacts:
        return "# no contacts were made at runtime\n"
    lines: list[str] = []
    client: str | None = None
    for contact in contacts:
        if contact.client_id != client:
            client = contact.client_id
            if lines:
                lines.append("")
            lines.append(f"# {contact.client_name} (id = {_string(client or '')}):")
            lines.append("# paste below that client's [[clients]] table")
        if not contact.identities:  # the file wants an address: nothing to paste
            lines += ["", f"# {contact.name} (contact {contact.id}) has no address left"]
            continue
        lines += ["", "[[clients.contacts]]", f"name = {_string(contact.name or '')}"]
        written: set[str] = set()
        extra: list[str] = []
        for identity in contact.identities:
            if identity.channel in written:
                extra.append(f"{identity.channel} {identity.address}")
                continue
            written.add(identity.channel)
            value = (
                identity.address if identity.channel == "telegram" else _string(identity.address)
            )
            lines.append(f"{identity.channel} = {value}")
        if extra:
            lines.append(f"# also (one address per channel in the file): {', '.join(extra)}")
    return "\n".join(lines) + "\n"
