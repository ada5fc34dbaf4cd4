-- The first schema of the mail store. Times are Unix seconds (REAL); text is UTF-8.

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('uidvalidity', 0);

CREATE TABLE domains (
    id      INTEGER PRIMARY KEY,
    name    TEXT NOT NULL UNIQUE,
    created REAL NOT NULL
);

CREATE TABLE accounts (
    id          INTEGER PRIMARY KEY,
    address     TEXT NOT NULL UNIQUE,
    domain      INTEGER NOT NULL REFERENCES domains(id),
    credentials TEXT NOT NULL,          -- JSON: Argon2id hash and SCRAM-SHA-256 verifiers
    created     REAL NOT NULL
);

-- Every address that reaches an account: its own, and more it may send as.
CREATE TABLE addresses (
    address TEXT PRIMARY KEY,
    account INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE aliases (
    address TEXT NOT NULL,              -- local@domain, or @domain for the catch-all
    target  TEXT NOT NULL,
    domain  INTEGER NOT NULL REFERENCES domains(id),
    PRIMARY KEY (address, target)
) WITHOUT ROWID;
CREATE INDEX aliases_by_target ON aliases(target);

CREATE TABLE mailboxes (
    id            INTEGER PRIMARY KEY,
    account       INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    uidvalidity   INTEGER NOT NULL,
    uidnext       INTEGER NOT NULL DEFAULT 1,
    highestmodseq INTEGER NOT NULL DEFAULT 1,
    special_use   TEXT,
    subscribed    INTEGER NOT NULL DEFAULT 1,
    UNIQUE (account, name)
);

-- One row per distinct content. Small contents are inline; large ones are files named by sha256,
-- written and fsynced before this row is committed. `parsed` is the parse-once form (JSON).
CREATE TABLE blobs (
    id     INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    size   INTEGER NOT NULL,
    data   BLOB,
    parsed TEXT NOT NULL
);

CREATE TABLE messages (
    mailbox      INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid          INTEGER NOT NULL,
    modseq       INTEGER NOT NULL,
    blob         INTEGER NOT NULL REFERENCES blobs(id),
    prefix       BLOB NOT NULL DEFAULT x'',  -- this copy's own header lines (Return-Path, Delivered-To)
    flags        TEXT NOT NULL DEFAULT '',  -- space-separated, sorted
    internaldate REAL NOT NULL,
    size         INTEGER NOT NULL,            -- prefix and blob together
    queue_id     TEXT NOT NULL DEFAULT '',    -- the queue id it was delivered from: its journey
    PRIMARY KEY (mailbox, uid)
) WITHOUT ROWID;
CREATE INDEX messages_by_modseq ON messages(mailbox, modseq);
CREATE INDEX messages_by_blob ON messages(blob);

-- Expunged UIDs with the modseq of their expunge, so that changes_since can report them.
CREATE TABLE expunged (
    mailbox INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid     INTEGER NOT NULL,
    modseq  INTEGER NOT NULL,
    PRIMARY KEY (mailbox, uid)
) WITHOUT ROWID;

CREATE TABLE queue (
    id               TEXT PRIMARY KEY,
    blob             INTEGER NOT NULL REFERENCES blobs(id),
    sender           TEXT NOT NULL,
    envelope         TEXT NOT NULL,     -- JSON: client, helo, auth, ENVID, RET, SMTPUTF8, BODY
    message_id       TEXT NOT NULL,
    received         REAL NOT NULL
);
CREATE INDEX queue_by_message_id ON queue(message_id);

CREATE TABLE queue_recipients (
    id           INTEGER PRIMARY KEY,
    queue_id     TEXT NOT NULL REFERENCES queue(id) ON DELETE CASCADE,
    address      TEXT NOT NULL,
    orcpt        TEXT,
    notify       TEXT,
    route        TEXT NOT NULL,
    mailbox      INTEGER,
    state        TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL,
    last_reply   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX queue_recipients_due ON queue_recipients(state, next_attempt);
CREATE INDEX queue_recipients_by_message ON queue_recipients(queue_id);

CREATE TABLE journey (
    id         INTEGER PRIMARY KEY,
    at         REAL NOT NULL,
    queue_id   TEXT NOT NULL,
    message_id TEXT NOT NULL,
    stage      TEXT NOT NULL,
    detail     TEXT NOT NULL
);
CREATE INDEX journey_by_queue_id ON journey(queue_id);
CREATE INDEX journey_by_message_id ON journey(message_id);
