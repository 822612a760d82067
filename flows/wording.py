"""What the reviewer reads, in bokmål: flags and consent states, from the codes the code keeps.

The screening and the review copy's model keep short codes (`consent_conflicts:3`,
`indirect_identification:S001-5B`, `consent_not_sufficient`) because tests, the JSON output
and the compliance report count them. A lawyer should never have to decode one: every place
a person reads them (the review copy PDF, the desk) goes through these functions, so a code
and its Norwegian explanation cannot drift apart. Codes we do not know are shown as they are
rather than hidden: a flag nobody can read is still a flag.
"""

from __future__ import annotations

from collections.abc import Mapping

CONSENT_STATES = {
    "consented": "samtykke gitt",
    "consent_lifted": "samtykke opphever taushetsplikten",
    "consent_not_sufficient": "samtykke ikke tilstrekkelig",
    "overridden": "overstyrt ved juridisk vurdering",
}


def consent_state_text(state: str | None) -> str:
    """`consent_not_sufficient` -> `samtykke ikke tilstrekkelig`."""
    return CONSENT_STATES.get(state or "", state or "")


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def flag_text(code: str, class_names: Mapping[str, str] | None = None) -> str:
    """A review flag explained: what the reviewer must look at, and why.

    `class_names` maps class ids to "5B – Sagene skole", so a flag can name the class the
    way the review copy's headings do."""
    kind, _, value = code.partition(":")
    if kind == "consent_conflicts" and value.isdigit():
        n = int(value)
        return (f"Samtykkekonflikt: {_count(n, 'verdi', 'verdier')} holdes tilbake selv om den foresatte "
                "har samtykket til deling, fordi samtykket ikke er tilstrekkelig. Kontroller verdiene merket "
                "«samtykke ikke tilstrekkelig», og gi skolen beskjed slik at den kan følge opp med de foresatte.")
    if kind == "consent_conflict" and value:
        return (f"Samtykkekonflikt for {value}: verdien holdes tilbake selv om den foresatte har samtykket "
                "til deling.")
    if kind == "indirect_identification" and value:
        name = (class_names or {}).get(value, value)
        return (f"Fare for indirekte identifisering i {name}: så få elever står igjen etter unntakene at "
                "de som er holdt tilbake, kan utledes av resten (offentleglova § 13). Vurder om hele "
                "klasselisten må unntas.")
    return code
