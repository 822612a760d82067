"""Deterministic synthetic Oslo-like school data, written as a school-system export.

`write_demo_export(folder, schools=N, seed=S)` writes the five CSV files of the import
format (contract.md, "Import format") and returns the row count of each. Everything is drawn
from one `random.Random(seed)`: the same seed gives byte-identical files, another seed gives
other data. Nothing depends on the clock, the environment or set/dict iteration order.

Shape
-----
* N ordinary schools `S001`…, named after Oslo school areas ("Sagene skole", "Bjølsen
  skole", …; past the end of the list the names repeat with a number: "Sagene skole 2").
  About three in four are barneskoler (grades 1–7, 2–4 parallel classes per grade), the rest
  ungdomsskoler (grades 8–10, 4–7 parallel classes per grade); about 20 classes per school.
  `S001` is always a barneskole, so it always has a class `5B` (the bundled example request).
* PLUS one small special school, always appended as the last school (`S{N+1:03d}`,
  "Skøyen spesialskole", `special_school=true`, 4 classes). So `--schools 1` gives 2
  schools and `--schools 200` gives 201.
* Ordinary classes have 18–28 pupils. The special group and the special school's classes
  are small (6–10 pupils), as such groups are.
* Each pupil has one or two guardians (about 80 % two), mostly sharing the pupil's surname.
  About 5 % of households have a second child in another grade of the same school: the same
  guardian ids, with identical name, contact data and grading, on both children's rows (the
  consent ticks are per class list, so they may differ between the two rows).
* Consent ticks: each class draws a base rate in [0.45, 0.95]; names are ticked most often,
  then e-mail, phone, and address least often.
* `--schools 200` gives about 4,000 classes and 95–100,000 pupils in well under 30 s.

Markers, placed whatever the seed
----------------------------------
Every marker is planted in the first school `S001` (so `--schools 1` has all of them), each
in its own household, on top of the random ones spread over all schools:

* class `5B`: a `fortrolig` pupil whose guardians are `fortrolig` and whose first guardian
  ticked share_names and share_address (a consent conflict); a `strengt_fortrolig` pupil
  (guardians likewise); an `ugradert` pupil whose second guardian is `fortrolig` (lives at
  another address); a guardian with an unlisted phone who ticked share_phone and another
  who did not; a guardian living at an institution address (spelt differently from the
  register) who ticked share_address; a pupil who is a sibling of a pupil in an earlier
  grade; two households as real families are registered: one where only the first guardian
  is `fortrolig` and the second lives with them at the same address, ungraded (a
  co-resident), and one whose child in `3A` is `strengt_fortrolig` while the brother or
  sister in `5B` and both guardians are registered `ugradert` (a sibling). Screening
  protects both households whole (sql/screening_households.sql).
* class `3A`: a `strengt_fortrolig_utland` pupil (guardians likewise).
* class `2A`: a guardian living at another institution address (a spelling variant), who
  did not tick share_address.
* a group "Forsterket avdeling" (`S001-FA`, `special_group=true`, a grade of 1–7).
* the appended special school (`special_school=true`).

Random markers elsewhere: graded pupils (≈0.3 % `fortrolig`, ≈0.1 % `strengt_fortrolig`,
≈0.02 % `strengt_fortrolig_utland`; the guardians share the grading 85 % of the time,
otherwise only the guardian the child lives with), ungraded pupils with a graded guardian
(≈0.05 %), unlisted phones (≈3 % of guardians, ticks drawn as usual). `institutions.csv`
holds 6 institutions; in all max(2, ⌈2 per 1,000 pupils⌉) guardians live at one of their
addresses, always written as a variant (case, spacing, `gate`→`gt.`, `veien`→`vn.`,
`12 B`→`12b`) that is never byte-equal to the register's spelling. No other guardian lives
at an institution address.

Contact data is fake: e-mails at example.no / example.com (æ→ae, ø→o, å→a, accents
stripped, a number added when taken), 8-digit mobiles `4xx xx xxx` / `9xx xx xxx`, Oslo
street addresses with postal codes 0150–1295 and city `OSLO`, one home per household (70 %
in flats, with a bruksenhetsnummer such as `H0203`: neighbours share a building, not a home). With
`include_fnr_column=True`, students.csv gets an extra `fodselsnummer` column of obviously
fake values (`00000` + 6 digits: day 00 is no date, so never a real number) to exercise
the importer's "unknown columns are ignored" path.
"""

from __future__ import annotations

import csv
import math
import random
import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from functools import cache
from itertools import accumulate
from pathlib import Path

# =========================================================================================
# Data tables
# =========================================================================================

SCHOOL_AREAS = (
    "Sagene", "Bjølsen", "Tøyen", "Lambertseter", "Grünerløkka", "Lakkegata", "Kampen",
    "Vahl", "Gamlebyen", "Vålerenga", "Ila", "Bolteløkka", "Fagerborg", "Majorstuen",
    "Uranienborg", "Marienlyst", "Ullevål", "Berg", "Tåsen", "Korsvoll", "Kjelsås",
    "Grefsen", "Disen", "Sinsen", "Lilleborg", "Hasle", "Løren", "Økern", "Bryn",
    "Østensjø", "Bøler", "Manglerud", "Ryen", "Nordstrand", "Ljan", "Holmlia", "Mortensrud",
    "Stovner", "Haugen", "Furuset", "Romsås", "Grorud", "Ammerud", "Tonsenhagen",
    "Linderud", "Veitvet", "Vinderen", "Slemdal", "Ris", "Smestad", "Bestum", "Lysejordet",
)
SPECIAL_SCHOOL_NAME = "Skøyen spesialskole"
SPECIAL_GROUP_NAME = "Forsterket avdeling"
SPECIAL_GROUP_CODE = "FA"
CLASS_LETTERS = "ABCDEFGH"

# Oslo streets and (roughly) their postal codes.
STREETS = (
    ("Thereses gate", "0358"), ("Kirkeveien", "0364"), ("Trondheimsveien", "0560"),
    ("Sannergata", "0557"), ("Markveien", "0554"), ("Thorvald Meyers gate", "0555"),
    ("Bjølsengata", "0468"), ("Sandakerveien", "0473"), ("Waldemar Thranes gate", "0171"),
    ("Ullevålsveien", "0165"), ("Bogstadveien", "0355"), ("Pilestredet", "0164"),
    ("Tøyengata", "0190"), ("Grønlandsleiret", "0190"), ("Hagegata", "0653"),
    ("Kampengata", "0654"), ("Lambertseterveien", "1150"), ("Cecilie Thoresens vei", "1153"),
    ("Olaf Helsets vei", "0694"), ("Nordstrandveien", "1163"), ("Ekebergveien", "1181"),
    ("Holmenkollveien", "0376"), ("Sognsveien", "0855"), ("Kongsveien", "1177"),
    ("Grorudveien", "0976"), ("Tonsenveien", "0587"), ("Vækerøveien", "0281"),
    ("Hovseterveien", "0768"), ("Haugerudveien", "0674"), ("Mortensrudveien", "1283"),
    ("Holmliaveien", "1256"), ("Årvollveien", "0590"), ("Økernveien", "0653"),
    ("Østensjøveien", "0667"), ("Frognerveien", "0263"), ("Eilert Sundts gate", "0259"),
    ("Schønings gate", "0362"), ("Vogts gate", "0474"), ("Torshovgata", "0476"),
    ("Hegermanns gate", "0478"), ("Søndre gate", "0550"), ("Åsengata", "0480"),
    ("Tåsenveien", "0873"), ("Kjelsåsveien", "0488"), ("Maridalsveien", "0178"),
    ("Dælenenggata", "0567"), ("Tvetenveien", "0666"), ("Bølerlia", "0691"),
    ("Prinsens gate", "0152"), ("Brugata", "0186"), ("Nydalsveien", "0484"),
    ("Stovnerveien", "0982"), ("Romsåsveien", "0960"), ("Furusetveien", "1053"),
)
POSTAL_CITY = "OSLO"


@dataclass(frozen=True)
class Institution:
    institution_id: str
    name: str
    street_address: str  # as the institution register spells it
    postal_code: str
    kind: str


INSTITUTIONS = (
    Institution("I001", "Bjølsen ungdomshjem", "Thereses gate 12 B", "0358",
                "barnevernsinstitusjon"),
    Institution("I002", "Majorstuen omsorgssenter", "Kirkeveien 5", "0364", "omsorgssenter"),
    Institution("I003", "Tøyen døgnenhet for barn og unge", "Tøyengata 44", "0190",
                "helseinstitusjon"),
    Institution("I004", "Grorud barnebolig", "Grorudveien 31", "0976",
                "barnevernsinstitusjon"),
    Institution("I005", "Lambertseter omsorgssenter", "Cecilie Thoresens vei 7 A", "1153",
                "omsorgssenter"),
    Institution("I006", "Holmlia helsehus", "Holmliaveien 120", "1256", "helseinstitusjon"),
)
_INSTITUTION_KEYS = frozenset((i.street_address, i.postal_code) for i in INSTITUTIONS)


@dataclass(frozen=True)
class NameGroup:
    key: str
    weight: float
    girls: tuple[str, ...]
    boys: tuple[str, ...]
    surnames: tuple[str, ...]
    women: tuple[str, ...] = ()  # adults; default: the children's names
    men: tuple[str, ...] = ()

    def first_names(self, *, female: bool, adult: bool) -> tuple[str, ...]:
        if adult and female and self.women:
            return self.women
        if adult and not female and self.men:
            return self.men
        return self.girls if female else self.boys


NORWEGIAN = NameGroup(
    "norsk", 66,
    girls=("Nora", "Emma", "Ella", "Sofie", "Olivia", "Ingrid", "Maja", "Frida", "Astrid",
           "Selma", "Tuva", "Hedda", "Thea", "Vilde", "Oda", "Sunniva", "Åsne", "Solveig",
           "Ingeborg", "Live", "Signe", "Ylva", "Mathilde", "Hanna", "Tiril", "Linnéa",
           "Kaja", "Sigrid", "Marte", "Aurora", "Amalie", "Iben", "Sølvi", "Bjørg"),
    boys=("Jakob", "Emil", "Noah", "Oliver", "Filip", "William", "Lucas", "Henrik",
          "Magnus", "Aksel", "Johannes", "Isak", "Sander", "Tobias", "Olav", "Håkon",
          "Sigurd", "Eirik", "Even", "Jonas", "Theodor", "Ludvig", "Mathias", "Kasper",
          "Edvard", "Brage", "Torstein", "Ask", "Ivar", "Sverre", "Halvor", "Bjørnar",
          "Sølve", "Tore"),
    surnames=("Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen",
              "Kristiansen", "Jensen", "Karlsen", "Johnsen", "Pettersen", "Eriksen", "Berg",
              "Haugen", "Hagen", "Dahl", "Jørgensen", "Halvorsen", "Lund", "Sørensen",
              "Moen", "Strand", "Solberg", "Eide", "Bakken", "Lie", "Mæhle", "Sæther",
              "Løvås", "Bråten", "Strøm", "Ødegård", "Bøe", "Næss", "Kvåle", "Grønli",
              "Nygård", "Rønning", "Aasen", "Sæbø", "Håland", "Røed", "Brække"),
    women=("Kari", "Ingrid", "Marit", "Hilde", "Silje", "Kristin", "Ingvild", "Åse", "Sølvi",
           "Randi", "Tone", "Line", "Camilla", "Guro", "Maren", "Ragnhild", "Kjersti", "Siv",
           "Tonje", "Anne-Marie", "Gro", "Trine", "Ellen", "Hege", "Synnøve", "Mette",
           "Liv", "Birgitte", "Sigrun", "Bjørg"),
    men=("Øystein", "Håkon", "Kåre", "Bjørn", "Ola", "Lars", "Per", "Espen", "Geir",
         "Trond", "Morten", "Jørgen", "Ståle", "Terje", "Pål", "Arne", "Eirik", "Thomas",
         "Anders", "Kjetil", "Ørjan", "Frode", "Sindre", "Stian", "Knut", "Gaute",
         "Vegard", "Øyvind", "Audun", "Hans Petter", "Jan-Erik"),
)
SAMI = NameGroup(
    "samisk", 3,
    girls=("Ánne", "Máret", "Biret", "Elle", "Inga", "Sárá", "Risten", "Káren"),
    boys=("Ánte", "Niillas", "Máhtte", "Issát", "Áslat", "Mihkkal", "Jovnna", "Nils"),
    surnames=("Gaup", "Eira", "Somby", "Hætta", "Bongo", "Sara", "Utsi", "Turi", "Balto",
              "Buljo", "Oskal", "Skum"),
    women=("Ánne", "Máret", "Berit", "Elle", "Inger", "Risten", "Kirsten", "Biret"),
    men=("Ánte", "Niillas", "Johan", "Mikkel", "Áilu", "Isak", "Nils Ole"),
)
SOMALI = NameGroup(
    "somali", 6,
    girls=("Amina", "Hodan", "Faadumo", "Sahra", "Ifrah", "Hibaq", "Naima", "Asha", "Idil",
           "Ayaan"),
    boys=("Abdirahman", "Mohamed", "Yusuf", "Abdi", "Said", "Ahmed", "Hassan", "Ismail",
          "Abdullahi", "Mustafa"),
    surnames=("Abdi", "Warsame", "Osman", "Hassan", "Farah", "Mohamud", "Ali", "Jama",
              "Omar", "Hussein", "Nur"),
)
PAKISTANI = NameGroup(
    "pakistansk", 6,
    girls=("Zainab", "Noor", "Ayesha", "Sana", "Maryam", "Hina", "Aleena", "Iman",
           "Fatima"),
    boys=("Mohammed", "Ahmed", "Ali", "Usman", "Bilal", "Imran", "Hamza", "Zayan",
          "Ibrahim", "Rayan"),
    surnames=("Khan", "Hussain", "Ahmed", "Butt", "Iqbal", "Malik", "Shah", "Chaudhry",
              "Rana", "Javed", "Mirza", "Akhtar"),
)
ARABIC = NameGroup(
    "arabisk", 5,
    girls=("Fatima", "Yasmin", "Layla", "Rania", "Nour", "Malak", "Hiba", "Sara"),
    boys=("Omar", "Hassan", "Yusuf", "Karim", "Adam", "Ibrahim", "Mahmoud", "Khaled"),
    surnames=("Al-Hassan", "Haddad", "Mustafa", "Saleh", "Abdullah", "Al-Sayed", "Mahmoud",
              "Ibrahim", "Jaber"),
)
VIETNAMESE = NameGroup(
    "vietnamesisk", 2.5,
    girls=("Linh", "Thao", "Mai", "Huong", "Lan", "Ngoc Anh"),
    boys=("Minh", "Duc", "Tuan", "Anh", "Khoa", "Bao", "Long"),
    surnames=("Nguyen", "Tran", "Pham", "Le", "Hoang", "Vu", "Dang"),
)
POLISH = NameGroup(
    "polsk", 5,
    girls=("Zofia", "Agnieszka", "Katarzyna", "Maja", "Julia", "Zuzanna", "Alicja",
           "Małgorzata"),
    boys=("Jakub", "Piotr", "Kacper", "Tomasz", "Szymon", "Antoni", "Michał"),
    surnames=("Nowak", "Kowalski", "Wiśniewski", "Lewandowski", "Zieliński", "Kamiński",
              "Wójcik", "Kowalczyk", "Mazur"),
)
SWEDISH = NameGroup(
    "svensk", 2.5,
    girls=("Elsa", "Alice", "Ebba", "Saga", "Wilma", "Agnes"),
    boys=("Oscar", "Hugo", "Lucas", "Elias", "Viktor", "Axel"),
    surnames=("Andersson", "Johansson", "Karlsson", "Nilsson", "Lindqvist", "Söderberg",
              "Bergström", "Lindgren"),
    women=("Annika", "Åsa", "Karin", "Maria", "Jenny", "Helena"),
    men=("Magnus", "Johan", "Fredrik", "Mattias", "Henrik", "Per"),
)
ERITREAN = NameGroup(
    "eritreisk", 2,
    girls=("Selam", "Helen", "Semhar", "Lidia", "Eden", "Yordanos"),
    boys=("Yonas", "Daniel", "Filmon", "Samuel", "Robel", "Natnael"),
    surnames=("Tesfay", "Haile", "Gebremedhin", "Kidane", "Tesfamariam", "Berhane",
              "Woldu"),
)
TURKISH_KURDISH = NameGroup(
    "tyrkisk/kurdisk", 2,
    girls=("Elif", "Zeynep", "Ayşe", "Dilan", "Rojda", "Berfin"),
    boys=("Emre", "Mehmet", "Yusuf", "Baran", "Kerem", "Ömer"),
    surnames=("Yılmaz", "Demir", "Kaya", "Çelik", "Aydın", "Öztürk", "Doğan"),
)
NAME_GROUPS = (NORWEGIAN, SAMI, SOMALI, PAKISTANI, ARABIC, VIETNAMESE, POLISH, SWEDISH,
               ERITREAN, TURKISH_KURDISH)
_GROUP_CUM_WEIGHTS = tuple(accumulate(g.weight for g in NAME_GROUPS))

EMAIL_DOMAINS = ("example.no", "example.com")
# Letters that Unicode decomposition does not strip to ASCII.
_TRANSLITERATION = str.maketrans({
    "æ": "ae", "ø": "o", "å": "a", "ł": "l", "ı": "i", "đ": "d", "ŋ": "n", "ŧ": "t",
    "ß": "ss",
})

PROTECTION_LEVELS = ("ugradert", "fortrolig", "strengt_fortrolig", "strengt_fortrolig_utland")

# Rates (per household unless noted).
RATE_TWO_GUARDIANS = 0.80
RATE_MOTHER_FIRST = 0.60
RATE_MIXED_COUPLE = 0.06          # the second guardian is from another name group
RATE_OWN_SURNAME = 0.20           # the second guardian keeps another surname
RATE_SINGLE_IS_MOTHER = 0.70
RATE_SINGLE_OTHER_SURNAME = 0.10
RATE_SIBLING = 0.06               # per pupil slot: a younger sibling of an earlier pupil
RATE_BARNESKOLE = 0.75            # per school
RATE_FORTROLIG = 0.003
RATE_STRENGT_FORTROLIG = 0.001
RATE_STRENGT_FORTROLIG_UTLAND = 0.0002
RATE_GRADING_SHARED = 0.85        # all guardians share a graded pupil's grading
RATE_GUARDIAN_ONLY_GRADED = 0.0005
RATE_UNLISTED_PHONE = 0.03        # per guardian
RATE_FLAT = 0.70                  # a household in a flat: its address names the flat (H0203)
INSTITUTION_GUARDIANS_PER_1000 = 2
MIN_INSTITUTION_GUARDIANS = 2

CONSENT_BASE_RANGE = (0.45, 0.95)  # per class
# Per-field offsets from the class's base rate: names most often, address least often.
CONSENT_OFFSETS = (("names", 0.04), ("email", -0.02), ("phone", -0.08), ("address", -0.22))

ORDINARY_CLASS_SIZE = (18, 28)
# Weights for 18, 19, …, 28 pupils: most Oslo classes have 23–28.
ORDINARY_CLASS_SIZE_WEIGHTS = (1, 1, 2, 3, 4, 5, 6, 7, 7, 7, 6)
_CLASS_SIZE_CUM_WEIGHTS = tuple(accumulate(ORDINARY_CLASS_SIZE_WEIGHTS))
SMALL_CLASS_SIZE = (6, 10)
PARALLELS = {"barneskole": (2, 4), "ungdomsskole": (4, 7)}
GRADES = {"barneskole": range(1, 8), "ungdomsskole": range(8, 11)}
SPECIAL_SCHOOL_CLASSES = 4

# Markers planted in the first school, whatever the seed: (class name, scenario).
FIRST_SCHOOL_PLAN = (
    ("2A", "institution_address_not_shared"),
    ("3A", "strengt_fortrolig_utland"),
    ("5B", "fortrolig_consent_conflict"),
    ("5B", "strengt_fortrolig"),
    ("5B", "guardian_graded_pupil_ugradert"),
    ("5B", "unlisted_phone_shared"),
    ("5B", "unlisted_phone_not_shared"),
    ("5B", "institution_address_shared"),
    ("5B", "sibling"),
    ("5B", "co_resident_of_graded"),
    ("5B", "sibling_of_graded"),
)
PLANTED_INSTITUTION_GUARDIANS = sum(
    1 for _, scenario in FIRST_SCHOOL_PLAN if scenario.startswith("institution_address")
)

SCHOOL_COLUMNS = ("school_id", "name", "special_school")
CLASS_COLUMNS = ("class_id", "school_id", "name", "grade", "special_group")
STUDENT_COLUMNS = ("student_id", "class_id", "first_name", "last_name", "address_protection")
FNR_COLUMN = "fodselsnummer"
GUARDIAN_COLUMNS = (
    "guardian_id", "student_id", "first_name", "last_name", "email", "phone",
    "phone_unlisted", "street_address", "postal_code", "postal_city", "address_protection",
    "share_names", "share_email", "share_phone", "share_address",
)
INSTITUTION_COLUMNS = ("institution_id", "name", "street_address", "postal_code", "kind")

# =========================================================================================
# The generated world (ids and e-mails are assigned at the end, in output order)
# =========================================================================================


@dataclass(eq=False)
class Guardian:
    group: NameGroup
    first_name: str
    last_name: str
    email_domain: str
    phone: str
    street_address: str
    postal_code: str
    phone_unlisted: bool = False
    address_protection: str = "ugradert"
    at_institution: bool = False
    guardian_id: str = ""
    email: str = ""


@dataclass(eq=False)
class Ticks:
    names: bool
    email: bool
    phone: bool
    address: bool


@dataclass(eq=False)
class Household:
    group: NameGroup
    surname: str               # the children's surname
    guardians: list[Guardian]
    protection: str = "ugradert"  # the pupils' grading
    planted: bool = False
    children: list[Student] = field(default_factory=list)


@dataclass(eq=False)
class Student:
    first_name: str
    household: Household
    klass: Klass
    ticks: list[Ticks]         # one per guardian, in household.guardians order
    student_id: str = ""
    protection: str = ""       # the pupil's own grading, where the register differs from the household's

    @property
    def last_name(self) -> str:
        return self.household.surname


@dataclass(eq=False)
class Klass:
    school: School
    code: str                  # the part of the id after the school id
    name: str
    grade: int
    special_group: bool
    consent_rates: tuple[float, float, float, float]
    students: list[Student] = field(default_factory=list)

    @property
    def class_id(self) -> str:
        return f"{self.school.school_id}-{self.code}"


@dataclass(eq=False)
class School:
    school_id: str
    name: str
    special_school: bool
    classes: list[Klass] = field(default_factory=list)


# =========================================================================================
# Small helpers
# =========================================================================================


@cache  # a few hundred distinct names
def ascii_slug(text: str) -> str:
    """`Øystein` → `oystein`, `Hans Petter` → `hans-petter`, `Ánne` → `anne`."""
    text = text.lower().translate(_TRANSLITERATION)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"\s+", "-", text.strip())
    return re.sub(r"[^a-z0-9.-]", "", text)


def school_name(index: int) -> str:
    area = SCHOOL_AREAS[index % len(SCHOOL_AREAS)]
    round_ = index // len(SCHOOL_AREAS)
    return f"{area} skole" if round_ == 0 else f"{area} skole {round_ + 1}"


def _abbreviate_street(address: str, rng: random.Random) -> str:
    address = re.sub(r"\bgate\b", "gt.", address)
    address = re.sub(r"veien\b", lambda _: rng.choice(("vn.", "vn.", "vei")), address)
    return re.sub(r"\bvei\b", "vn.", address)


def _join_house_letter(address: str, rng: random.Random) -> str:
    return re.sub(r"(\d+) ([A-Za-z])$",
                  lambda m: m[1] + rng.choice((m[2].lower(), m[2].upper())), address)


def _change_case(address: str, rng: random.Random) -> str:
    return address.upper() if rng.random() < 0.5 else address.lower()


def _change_spacing(address: str, rng: random.Random) -> str:
    return re.sub(r" (\d)", r"  \1", address, count=1)


_VARIANT_STEPS = (_abbreviate_street, _join_house_letter, _change_case, _change_spacing)


def address_variant(address: str, rng: random.Random) -> str:
    """Another spelling of the same address, never byte-equal to it."""
    variant = address
    for step in _VARIANT_STEPS:
        if rng.random() < 0.6:
            variant = step(variant, rng)
    return variant if variant != address else variant.upper()


def _bool(value: bool) -> str:
    return "true" if value else "false"


# =========================================================================================
# The generator
# =========================================================================================


class _Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.households: list[Household] = []
        self._phones: set[str] = set()       # membership only, never iterated
        self._homes: set[tuple[str, str]] = set()  # likewise: one household per home
        self._emails: dict[str, int] = {}    # membership only, never iterated

    # --- people ------------------------------------------------------------------------

    def name_group(self) -> NameGroup:
        return self.rng.choices(NAME_GROUPS, cum_weights=_GROUP_CUM_WEIGHTS)[0]

    def first_name(self, group: NameGroup, *, female: bool, adult: bool,
                   avoid: tuple[str, ...] = ()) -> str:
        names = group.first_names(female=female, adult=adult)
        while True:
            name = self.rng.choice(names)
            if name not in avoid:
                return name

    def phone(self) -> str:
        while True:
            digits = self.rng.choice("49") + f"{self.rng.randrange(10**7):07d}"
            if digits not in self._phones:
                self._phones.add(digits)
                return f"{digits[:3]} {digits[3:5]} {digits[5:]}"

    def address(self) -> tuple[str, str]:
        """A home of its own: most Oslo households live in flats, written with the flat's
        bruksenhetsnummer ("Storgata 5 H0203"), so neighbours share a building, not a home."""
        while True:
            street, postal_code = self.rng.choice(STREETS)
            number = self.rng.randint(1, 60) if self.rng.random() < 0.8 else self.rng.randint(61, 160)
            building = f"{street} {number}"
            if self.rng.random() < 0.25:
                building += " " + self.rng.choice("ABCD")
            address = building
            if self.rng.random() < RATE_FLAT:
                address += f" H{self.rng.randint(1, 6):02d}{self.rng.randint(1, 4):02d}"
            if (building, postal_code) not in _INSTITUTION_KEYS and (address, postal_code) not in self._homes:
                self._homes.add((address, postal_code))
                return address, postal_code

    def guardian(self, group: NameGroup, surname: str, *, female: bool,
                 home: tuple[str, str]) -> Guardian:
        return Guardian(
            group=group,
            first_name=self.first_name(group, female=female, adult=True),
            last_name=surname,
            email_domain=EMAIL_DOMAINS[0] if self.rng.random() < 0.7 else EMAIL_DOMAINS[1],
            phone=self.phone(),
            street_address=home[0],
            postal_code=home[1],
        )

    def household(self, *, two_guardians: bool | None = None) -> Household:
        rng = self.rng
        group = self.name_group()
        surname = rng.choice(group.surnames)
        home = self.address()
        if two_guardians is None:
            two_guardians = rng.random() < RATE_TWO_GUARDIANS
        if two_guardians:
            father = self.guardian(group, surname, female=False, home=home)
            mother_group = self.name_group() if rng.random() < RATE_MIXED_COUPLE else group
            mother_surname = surname
            if mother_group is not group or rng.random() < RATE_OWN_SURNAME:
                mother_surname = rng.choice(mother_group.surnames)
            mother = self.guardian(mother_group, mother_surname, female=True, home=home)
            guardians = [mother, father] if rng.random() < RATE_MOTHER_FIRST else [father, mother]
        else:
            female = rng.random() < RATE_SINGLE_IS_MOTHER
            own = rng.choice(group.surnames) if rng.random() < RATE_SINGLE_OTHER_SURNAME else surname
            guardians = [self.guardian(group, own, female=female, home=home)]
        household = Household(group=group, surname=surname, guardians=guardians)
        self.households.append(household)
        return household

    def random_markers(self, household: Household) -> None:
        """Gradings and unlisted phones at their (small) population rates."""
        rng = self.rng
        r = rng.random()
        grading = "ugradert"
        if r < RATE_STRENGT_FORTROLIG_UTLAND:
            grading = "strengt_fortrolig_utland"
        elif r < RATE_STRENGT_FORTROLIG_UTLAND + RATE_STRENGT_FORTROLIG:
            grading = "strengt_fortrolig"
        elif r < RATE_STRENGT_FORTROLIG_UTLAND + RATE_STRENGT_FORTROLIG + RATE_FORTROLIG:
            grading = "fortrolig"
        if grading != "ugradert":
            household.protection = grading
            shared = len(household.guardians) == 1 or rng.random() < RATE_GRADING_SHARED
            for guardian in household.guardians if shared else household.guardians[:1]:
                guardian.address_protection = grading
        elif len(household.guardians) == 2 and rng.random() < RATE_GUARDIAN_ONLY_GRADED:
            self.grade_guardian_apart(household.guardians[1])
        for guardian in household.guardians:
            if rng.random() < RATE_UNLISTED_PHONE:
                guardian.phone_unlisted = True

    def grade_guardian_apart(self, guardian: Guardian) -> None:
        guardian.address_protection = "fortrolig"
        guardian.street_address, guardian.postal_code = self.address()

    def move_to_institution(self, guardian: Guardian, institution: Institution) -> None:
        guardian.street_address = address_variant(institution.street_address, self.rng)
        guardian.postal_code = institution.postal_code
        guardian.at_institution = True

    def ticks(self, klass: Klass) -> Ticks:
        return Ticks(*(self.rng.random() < rate for rate in klass.consent_rates))

    def add_child(self, household: Household, klass: Klass) -> Student:
        group = household.group
        other = [g.group for g in household.guardians if g.group is not group]
        if other:
            # A mixed couple: the child's first name may come from either side.
            group = self.rng.choice((group, other[0]))
        female = self.rng.random() < 0.5
        siblings = tuple(child.first_name for child in household.children)
        student = Student(
            first_name=self.first_name(group, female=female, adult=False, avoid=siblings),
            household=household,
            klass=klass,
            ticks=[self.ticks(klass) for _ in household.guardians],
        )
        household.children.append(student)
        klass.students.append(student)
        return student

    # --- classes and schools -----------------------------------------------------------

    def klass(self, school: School, code: str, name: str, grade: int, *,
              special_group: bool = False) -> Klass:
        base = self.rng.uniform(*CONSENT_BASE_RANGE)
        rates = tuple(min(0.99, max(0.02, base + offset)) for _, offset in CONSENT_OFFSETS)
        klass = Klass(school, code, name, grade, special_group, rates)
        school.classes.append(klass)
        return klass

    def fill(self, klass: Klass, size: int, pool: list[Household] | None,
             new_households: list[Household] | None) -> None:
        """Fill the class to `size` pupils: new households, and now and then a sibling."""
        while len(klass.students) < size:
            if pool and self.rng.random() < RATE_SIBLING:
                self.add_child(self.take_from_pool(pool), klass)
                continue
            household = self.household()
            self.random_markers(household)
            self.add_child(household, klass)
            if new_households is not None:
                new_households.append(household)

    def ordinary_class_size(self) -> int:
        low, high = ORDINARY_CLASS_SIZE
        return self.rng.choices(range(low, high + 1), cum_weights=_CLASS_SIZE_CUM_WEIGHTS)[0]

    def take_from_pool(self, pool: list[Household]) -> Household:
        index = self.rng.randrange(len(pool))
        household = pool[index]
        pool[index] = pool[-1]
        pool.pop()
        return household

    def ordinary_school(self, index: int) -> School:
        rng = self.rng
        school = School(f"S{index + 1:03d}", school_name(index), special_school=False)
        kind = "barneskole" if index == 0 or rng.random() < RATE_BARNESKOLE else "ungdomsskole"
        plan = FIRST_SCHOOL_PLAN if index == 0 else ()
        pool: list[Household] = []  # single-child households of earlier grades
        for grade in GRADES[kind]:
            new_households: list[Household] = []
            for letter in CLASS_LETTERS[: rng.randint(*PARALLELS[kind])]:
                klass = self.klass(school, f"{grade}{letter}", f"{grade}{letter}", grade)
                for class_name, scenario in plan:
                    if class_name == klass.name:
                        self.plant(scenario, klass, pool)
                self.fill(klass, self.ordinary_class_size(), pool, new_households)
            pool.extend(new_households)
        if index == 0:
            group = self.klass(school, SPECIAL_GROUP_CODE, SPECIAL_GROUP_NAME,
                               rng.choice(GRADES[kind]), special_group=True)
            self.fill(group, rng.randint(*SMALL_CLASS_SIZE), None, None)
        return school

    def special_school(self, index: int) -> School:
        school = School(f"S{index + 1:03d}", SPECIAL_SCHOOL_NAME, special_school=True)
        for grade in sorted(self.rng.sample(range(1, 11), SPECIAL_SCHOOL_CLASSES)):
            klass = self.klass(school, f"{grade}A", f"{grade}A", grade)
            self.fill(klass, self.rng.randint(*SMALL_CLASS_SIZE), None, None)
        return school

    # --- planted markers ---------------------------------------------------------------

    def plant(self, scenario: str, klass: Klass, pool: list[Household]) -> None:
        if scenario == "sibling":
            self.add_child(self.take_from_pool(pool), klass)
            return
        household = self.household(two_guardians=True)
        household.planted = True
        student = self.add_child(household, klass)
        first, second = household.guardians
        ticks = student.ticks[0]
        if scenario in ("fortrolig_consent_conflict", "strengt_fortrolig",
                        "strengt_fortrolig_utland"):
            grading = scenario.removesuffix("_consent_conflict")
            household.protection = grading
            first.address_protection = second.address_protection = grading
            if scenario == "fortrolig_consent_conflict":
                ticks.names = ticks.address = True
        elif scenario == "guardian_graded_pupil_ugradert":
            self.grade_guardian_apart(second)
        elif scenario == "co_resident_of_graded":
            first.address_protection = "fortrolig"  # the second lives with them, registered ungraded
            ticks.names = ticks.address = student.ticks[1].names = student.ticks[1].address = True
        elif scenario == "sibling_of_graded":
            older = next(k for k in klass.school.classes if k.name == "3A")
            self.add_child(household, older).protection = "strengt_fortrolig"
            ticks.names = True
        elif scenario.startswith("unlisted_phone"):
            first.phone_unlisted = True
            ticks.phone = scenario == "unlisted_phone_shared"
        elif scenario.startswith("institution_address"):
            institution = INSTITUTIONS[0 if scenario == "institution_address_shared" else 1]
            self.move_to_institution(first, institution)
            ticks.address = scenario == "institution_address_shared"
        else:
            raise ValueError(f"unknown scenario {scenario!r}")

    def extra_institution_guardians(self, pupils: int) -> None:
        wanted = max(MIN_INSTITUTION_GUARDIANS,
                     math.ceil(pupils * INSTITUTION_GUARDIANS_PER_1000 / 1000))
        eligible = [
            h for h in self.households
            if not h.planted and h.protection == "ugradert"
            and all(g.address_protection == "ugradert" for g in h.guardians)
        ]
        extra = min(len(eligible), max(0, wanted - PLANTED_INSTITUTION_GUARDIANS))
        for household in self.rng.sample(eligible, extra):
            guardian = self.rng.choice(household.guardians)
            self.move_to_institution(guardian, self.rng.choice(INSTITUTIONS))

    # --- ids and e-mails, in output order ----------------------------------------------

    def assign_ids(self, schools: list[School]) -> None:
        student_no = guardian_no = 0
        for school in schools:
            for klass in school.classes:
                klass.students.sort(key=lambda s: (s.last_name.casefold(),
                                                   s.first_name.casefold()))
                for student in klass.students:
                    student_no += 1
                    student.student_id = f"E{student_no:06d}"
                    for guardian in student.household.guardians:
                        if not guardian.guardian_id:
                            guardian_no += 1
                            guardian.guardian_id = f"F{guardian_no:06d}"
                            guardian.email = self.email(guardian)

    def email(self, guardian: Guardian) -> str:
        local = f"{ascii_slug(guardian.first_name)}.{ascii_slug(guardian.last_name)}"
        key = f"{local}@{guardian.email_domain}"
        taken = self._emails.get(key, 0)
        self._emails[key] = taken + 1
        if taken:
            local += str(taken + 1)
        return f"{local}@{guardian.email_domain}"


# =========================================================================================
# Building and writing
# =========================================================================================


def build_demo_schools(*, schools: int = 3, seed: int = 1) -> list[School]:
    """The generated schools (N ordinary + 1 special), with ids assigned."""
    if schools < 1:
        raise ValueError("schools must be at least 1")
    generator = _Generator(seed)
    result = [generator.ordinary_school(i) for i in range(schools)]
    result.append(generator.special_school(schools))
    pupils = sum(len(k.students) for s in result for k in s.classes)
    generator.extra_institution_guardians(pupils)
    generator.assign_ids(result)
    return result


def _school_rows(schools: list[School]):
    for school in schools:
        yield (school.school_id, school.name, _bool(school.special_school))


def _class_rows(schools: list[School]):
    for school in schools:
        for k in school.classes:
            yield (k.class_id, school.school_id, k.name, str(k.grade), _bool(k.special_group))


def _students(schools: list[School]):
    for school in schools:
        for klass in school.classes:
            yield from klass.students


def _student_rows(schools: list[School], include_fnr: bool):
    for student in _students(schools):
        row = (student.student_id, student.klass.class_id, student.first_name,
               student.last_name, student.protection or student.household.protection)
        if include_fnr:
            # Day 00 is no date: never a real fødselsnummer.
            row += (f"00000{int(student.student_id[1:]):06d}",)
        yield row


def _guardian_rows(schools: list[School]):
    for student in _students(schools):
        for guardian, ticks in zip(student.household.guardians, student.ticks, strict=True):
            yield (
                guardian.guardian_id, student.student_id, guardian.first_name,
                guardian.last_name, guardian.email, guardian.phone,
                _bool(guardian.phone_unlisted), guardian.street_address,
                guardian.postal_code, POSTAL_CITY, guardian.address_protection,
                _bool(ticks.names), _bool(ticks.email), _bool(ticks.phone),
                _bool(ticks.address),
            )


def _institution_rows():
    for i in INSTITUTIONS:
        yield (i.institution_id, i.name, i.street_address, i.postal_code, i.kind)


JOURNAL_COLUMNS = ("system_id", "saksnr", "dokumentnr", "school_id", "class_id")
#: The demo journal's namespace: a class list's system_id is a UUID made from its class_id,
#: so the same export always names the same documents.
JOURNAL_NAMESPACE = uuid.UUID("6f1c2b1e-8d4a-5e0f-9a7b-3c2d1e0f4a5b")


def journal_reference(school_number: int, class_number: int, class_id: str) -> tuple[str, str, str]:
    """(system_id, saksnr, dokumentnr) of a demo class list: one case per school in the
    journal ("2026/<school number>"), one document per class in it."""
    return (str(uuid.uuid5(JOURNAL_NAMESPACE, class_id)), f"2026/{1000 + school_number}", str(class_number))


def _journal_rows(schools: list[School]):
    for school_number, school in enumerate(schools, start=1):
        for class_number, k in enumerate(school.classes, start=1):
            yield (*journal_reference(school_number, class_number, k.class_id), school.school_id, k.class_id)


def _write_csv(path: Path, header: tuple[str, ...], rows) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def write_demo_export(folder: Path, *, schools: int = 3, seed: int = 1,
                      include_fnr_column: bool = False) -> dict[str, int]:
    """Write a synthetic export folder (contract.md, "Import format") and count its rows.

    `schools` ordinary schools plus one small special school (so `schools=1` gives two
    schools); every marker is present for any seed (see the module docstring). Returns the
    number of data rows per file, keyed by table name: schools, classes, students,
    guardians (rows, i.e. guardian–pupil pairs), institutions and journal_documents (each
    class list's journal reference, so that an eInnsyn order can name it).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    built = build_demo_schools(schools=schools, seed=seed)
    student_columns = STUDENT_COLUMNS + ((FNR_COLUMN,) if include_fnr_column else ())
    return {
        "schools": _write_csv(folder / "schools.csv", SCHOOL_COLUMNS, _school_rows(built)),
        "classes": _write_csv(folder / "classes.csv", CLASS_COLUMNS, _class_rows(built)),
        "students": _write_csv(folder / "students.csv", student_columns,
                               _student_rows(built, include_fnr_column)),
        "guardians": _write_csv(folder / "guardians.csv", GUARDIAN_COLUMNS,
                                _guardian_rows(built)),
        "institutions": _write_csv(folder / "institutions.csv", INSTITUTION_COLUMNS,
                                   _institution_rows()),
        "journal_documents": _write_csv(folder / "journal_documents.csv", JOURNAL_COLUMNS,
                                        _journal_rows(built)),
    }
