"""The desk's Norwegian words: statuses, outcomes, consent states, flags and dates.

Flags and consent states are worded by `innsyn.wording`, the same functions the review copy
uses, so the page and the PDF say the same thing.
"""

from __future__ import annotations

from datetime import date, datetime

from innsyn.clock import OSLO
from innsyn.render import MONTHS
from innsyn.wording import consent_state_text, flag_text  # noqa: F401 - the grid's filters

STATUS = {
    "received": "mottatt",
    "screened": "kontrollert",
    "awaiting_review": "til juridisk vurdering",
    "approved": "godkjent",
    "released": "besvart",
}
OUTCOME = {"innvilget": "innvilget", "delvis_innvilget": "delvis innvilget", "avslatt": "avslått"}
DEADLINE_STATE = {
    "within_target": "innenfor målet",
    "past_target": "over målet",
    "past_limit": "over fristen",
    "unknown": "ukjent mottaksdato",
}
REQUESTER_KIND = {
    "journalist": "journalist",
    "private": "privatperson",
    "commercial": "næringsdrivende",
    "organisation": "organisasjon",
    "anonymous": "anonym",
}
ROLE = {"handler": "saksbehandler", "reviewer": "jurist", "admin": "administrator"}
FIELD = {"pupil_name": "elevens navn", "guardian_name": "foresattes navn", "email": "e-post",
         "phone": "telefon", "address": "adresse"}
EVENT = {
    "received": "Registrert",
    "screened": "Kontrollert mot regelverket",
    "awaiting_review": "Sendt til juridisk vurdering",
    "overridden": "Beslutning endret",
    "release_confirmed": "Utlevering bekreftet av annen jurist",
    "approved": "Godkjent",
    "approval_voided": "Godkjenning opphevet",
    "rescreened": "Kontrollert på nytt mot registeret",
    "released": "Svar sendt ut",
    "viewed": "Saken ble åpnet",
}


def norsk_dato(value: date | datetime | None) -> str:
    """`24. november 2026`; a moment is shown as the day in Oslo."""
    if value is None:
        return "–"
    if isinstance(value, datetime):
        value = value.astimezone(OSLO).date()
    return f"{value.day}. {MONTHS[value.month - 1]} {value.year}"


def kort_dato(value: date | datetime | None) -> str:
    """`24.11.2026`, for the columns of the case list."""
    if value is None:
        return "–"
    if isinstance(value, datetime):
        value = value.astimezone(OSLO).date()
    return f"{value:%d.%m.%Y}"


def tidspunkt(value: datetime | None) -> str:
    """`24.11.2026 kl. 10.00`, in Oslo time."""
    if value is None:
        return "–"
    return f"{value.astimezone(OSLO):%d.%m.%Y kl. %H.%M}"

RULE = {
    "strengt_fortrolig_adresse": "Strengt fortrolig adresse (kode 6/19)",
    "fortrolig_adresse": "Fortrolig adresse (kode 7)",
    "institusjonsadresse": "Institusjonsadresse",
    "institusjon_elevnavn": "Elev med institusjon som foresatt",
    "spesialundervisning": "Spesialundervisning",
    "hemmelig_telefonnummer": "Hemmelig telefonnummer",
}


def rule_text(rule: str | None) -> str:
    return RULE.get(rule or "", rule or "")


def short_basis(text: str | None) -> str:
    """`offl. § 13 første ledd, jf. fvl. § 13 første ledd nr. 1`: the grid's narrow column."""
    text = text or ""
    for long, short in (("offentleglova", "offl."), ("forvaltningsloven", "fvl.")):
        text = text.replace(long, short)
    return text
