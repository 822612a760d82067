-- The innsyn database: the school system's export (raw tables), the cases we answer, the
-- per-item decisions, and an append-only event log. Idempotent: safe to run on every start.

-- ---------------------------------------------------------------------------------------
-- The school system's export, as imported (see contract.md, "Import format").
-- Fødselsnummer is never a column here: it must never be loaded into a list.
-- References between these tables are checked by the importer (sql/import_problems.sql),
-- their only writer, not by FOREIGN KEY clauses: DuckDB checks a foreign key against the
-- data as it was when the transaction began, so a re-import (delete all, insert all, in
-- one transaction) could never pass them.
-- ---------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS schools (
    school_id       VARCHAR PRIMARY KEY,
    name            VARCHAR NOT NULL,
    special_school  BOOLEAN NOT NULL
);

CREATE TABLE IF NOT EXISTS classes (
    class_id        VARCHAR PRIMARY KEY,
    school_id       VARCHAR NOT NULL,
    name            VARCHAR NOT NULL,
    grade           INTEGER NOT NULL CHECK (grade BETWEEN 1 AND 13),
    special_group   BOOLEAN NOT NULL
);

CREATE TABLE IF NOT EXISTS students (
    student_id          VARCHAR PRIMARY KEY,
    class_id            VARCHAR NOT NULL,
    first_name          VARCHAR NOT NULL,
    last_name           VARCHAR NOT NULL,
    address_protection  VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS guardians (
    guardian_id         VARCHAR NOT NULL,
    student_id          VARCHAR NOT NULL,
    first_name          VARCHAR NOT NULL,
    last_name           VARCHAR NOT NULL,
    email               VARCHAR,
    phone               VARCHAR,
    phone_unlisted      BOOLEAN NOT NULL,
    street_address      VARCHAR,
    postal_code         VARCHAR,
    postal_city         VARCHAR,
    address_protection  VARCHAR NOT NULL,
    share_names         BOOLEAN NOT NULL,
    share_email         BOOLEAN NOT NULL,
    share_phone         BOOLEAN NOT NULL,
    share_address       BOOLEAN NOT NULL,
    PRIMARY KEY (guardian_id, student_id)
);

CREATE TABLE IF NOT EXISTS institutions (
    institution_id  VARCHAR PRIMARY KEY,
    name            VARCHAR NOT NULL,
    street_address  VARCHAR NOT NULL,
    postal_code     VARCHAR NOT NULL,
    kind            VARCHAR NOT NULL
);

-- Every guardian street spelling, normalised once when the register is imported
-- (sql/street_keys.sql, with the macros of sql/normalize_address.sql): screening a request
-- compares keys instead of running the address regular expressions over every household
-- again. `rules` names the normalisation that made the key (a hash of normalize_address.sql):
-- screening ignores a key made under other rules and normalises that spelling itself.
CREATE TABLE IF NOT EXISTS street_keys (
    street_address  VARCHAR NOT NULL,
    street_key      VARCHAR NOT NULL,
    rules           VARCHAR NOT NULL
);

-- ---------------------------------------------------------------------------------------
-- Cases: one row per innsyn request. The requester is not a protected person, but we keep
-- what we know of them here only, never in Prefect.
-- ---------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS cases (
    case_id             VARCHAR PRIMARY KEY,
    request_id          VARCHAR NOT NULL UNIQUE,
    received_at         TIMESTAMPTZ NOT NULL,
    requester_name      VARCHAR NOT NULL,
    requester_email     VARCHAR,
    requester_kind      VARCHAR NOT NULL,
    requester_org       VARCHAR,
    scope_school_id     VARCHAR NOT NULL,
    scope_classes       VARCHAR NOT NULL,      -- JSON: a list of class names, or "all"
    registered_by       VARCHAR NOT NULL,
    status              VARCHAR NOT NULL,
    outcome             VARCHAR,
    policy_name         VARCHAR,
    policy_version      VARCHAR,
    policy_hash         VARCHAR,
    data_hash           VARCHAR,
    public_pdf          VARCHAR,
    review_pdf          VARCHAR,
    registered_at       TIMESTAMPTZ NOT NULL,
    decided_at          TIMESTAMPTZ,
    released_at         TIMESTAMPTZ
);

-- One row per class in the case's scope (a bulk request has thousands), with the names as
-- they were when the case was registered: a later import does not change an old answer.
CREATE TABLE IF NOT EXISTS case_classes (
    case_id     VARCHAR NOT NULL,
    class_id    VARCHAR NOT NULL,
    school_id   VARCHAR NOT NULL,
    school_name VARCHAR NOT NULL,
    class_name  VARCHAR NOT NULL,
    grade       INTEGER NOT NULL,
    PRIMARY KEY (case_id, class_id)
);

-- ---------------------------------------------------------------------------------------
-- The decision on every consented value in the case, snapshotted at screening time so the
-- answer can be rendered again with the same content. Fields a guardian did not tick are
-- never here: they were never part of the document.
--   field: pupil_name | guardian_name | email | phone | address
--   decision: release | withhold
--   no_trace: the row must leave no trace (graded address) — not even a count.
-- ---------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS case_items (
    case_id         VARCHAR NOT NULL,
    item_id         VARCHAR NOT NULL,          -- stable: student/guardian/field
    class_id        VARCHAR NOT NULL,
    student_id      VARCHAR NOT NULL,
    guardian_id     VARCHAR,                   -- NULL for the pupil's own name
    field           VARCHAR NOT NULL,
    value           VARCHAR NOT NULL,
    sort_key        VARCHAR NOT NULL,          -- "last first id": the list is alphabetical
    decision        VARCHAR NOT NULL,
    rule            VARCHAR,                   -- the policy rule that withheld or flagged it
    legal_basis     VARCHAR,
    consent_state   VARCHAR NOT NULL,          -- consented | consent_lifted | consent_overridden
    no_trace        BOOLEAN NOT NULL DEFAULT false,
    requires_review BOOLEAN NOT NULL DEFAULT false,
    decided_by      VARCHAR NOT NULL,
    decided_at      TIMESTAMPTZ NOT NULL,
    override_reason VARCHAR
    -- (case_id, item_id) is unique by construction (sql/consented_class_list.sql); no index:
    -- a bulk case inserts half a million rows, and DuckDB's index would cost more than the work.
);

-- The members of graded households a case touched (sql/case_household_members.sql): who was
-- protected for another person's grade, and how they were reached (via: own,
-- guardian_of_graded, co_resident, child, family). Ids only; replaced when the case is screened.
CREATE TABLE IF NOT EXISTS case_household_members (
    case_id     VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL,              -- pupil | guardian
    id          VARCHAR NOT NULL,
    marker      VARCHAR NOT NULL,
    via         VARCHAR NOT NULL
);

-- The graded households of the register as screening last found them
-- (sql/screening_households.sql), under `fingerprint`: the register's content
-- (sql/register_fingerprint.sql), the address rules and the policy's [household] switches.
-- A screening with the same fingerprint reuses them; another replaces them. One row with
-- kind '' marks a fingerprint whose households were found (there may be none).
CREATE TABLE IF NOT EXISTS household_cache (
    fingerprint VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL,
    id          VARCHAR NOT NULL,
    marker      VARCHAR NOT NULL,
    via         VARCHAR NOT NULL
);

-- Append-only: no code path updates or deletes a row here.
CREATE SEQUENCE IF NOT EXISTS case_event_seq;
CREATE TABLE IF NOT EXISTS case_events (
    event_id        BIGINT PRIMARY KEY DEFAULT nextval('case_event_seq'),
    case_id         VARCHAR NOT NULL,
    event           VARCHAR NOT NULL,
    actor           VARCHAR NOT NULL,
    occurred_at     TIMESTAMPTZ NOT NULL,
    policy_version  VARCHAR,
    data_hash       VARCHAR,
    reason          VARCHAR,
    detail          VARCHAR                    -- JSON with ids and counts only
);

-- Added after the first release: databases made before get the columns here.
-- The requester's own reference, when they gave one ("Deres referanse" in the letter).
ALTER TABLE cases ADD COLUMN IF NOT EXISTS requester_reference VARCHAR;

-- ---------------------------------------------------------------------------------------
-- The case desk (flows/desk): its local accounts and the secret that signs its session
-- cookies. A password is kept only as an Argon2id hash. `failed_logins` counts the failures
-- since the last sign-in; at the limit the account is locked until `locked_until`.
-- ---------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS desk_accounts (
    name            VARCHAR PRIMARY KEY,
    role            VARCHAR NOT NULL CHECK (role IN ('handler', 'reviewer', 'admin')),
    password_hash   VARCHAR NOT NULL,
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_until    TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL
);

-- A signed-in browser: its session cookie names the row. Signing out removes it, so a copied
-- cookie is worth nothing afterwards; a row older than a working day no longer counts.
CREATE TABLE IF NOT EXISTS desk_sessions (
    session_id      VARCHAR PRIMARY KEY,
    name            VARCHAR NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS desk_secrets (
    name    VARCHAR PRIMARY KEY,
    value   VARCHAR NOT NULL
);

-- ---------------------------------------------------------------------------------------
-- Mail in and out, and the journal (issue 15).
-- ---------------------------------------------------------------------------------------
-- Which journal document is which class list (the export's optional journal_documents.csv):
-- an eInnsyn order names journal documents, matched on system_id when the order has one,
-- else on saksnr + dokumentnr. Replaced with the rest of the export, all or nothing.
CREATE TABLE IF NOT EXISTS journal_documents (
    system_id   VARCHAR,
    saksnr      VARCHAR,
    dokumentnr  VARCHAR,
    school_id   VARCHAR NOT NULL,
    class_id    VARCHAR NOT NULL
);

-- Every mail message intake has handled, by the sha256 of its bytes: a message is handled
-- once, even when a crash left it in new/ after its case or triage entry was committed.
CREATE TABLE IF NOT EXISTS intake_messages (
    message_sha256  VARCHAR PRIMARY KEY,
    file_name       VARCHAR NOT NULL,
    handled_at      TIMESTAMPTZ NOT NULL,
    outcome         VARCHAR NOT NULL,      -- case | triage
    case_id         VARCHAR,
    triage_id       VARCHAR
);

-- What intake could not turn into a case by itself, for a case handler to map by hand
-- (`innsyn intake list`, `innsyn intake map`). The sender, subject and order's e-mail are
-- the requester's own words; they stay in this database and never go to Prefect.
CREATE TABLE IF NOT EXISTS intake_triage (
    triage_id       VARCHAR PRIMARY KEY,   -- T-<first 12 hex of the message's sha256>
    received_at     TIMESTAMPTZ NOT NULL,
    sender          VARCHAR,
    subject         VARCHAR,
    reason          VARCHAR NOT NULL,      -- one line, in English, naming no personal data
    order_id        VARCHAR,
    ordered_on      DATE,
    reply_to        VARCHAR,
    documents       VARCHAR,               -- JSON: the order's documents (saksnr, dokumentnr, system_id)
    status          VARCHAR NOT NULL,      -- open | mapped
    case_id         VARCHAR,
    mapped_by       VARCHAR,
    mapped_at       TIMESTAMPTZ
);
