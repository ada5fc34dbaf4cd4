-- Outbound delivery: what each attempt learnt, and the domains' DKIM keys.

ALTER TABLE queue_recipients ADD COLUMN remote_mta TEXT NOT NULL DEFAULT '';
ALTER TABLE queue_recipients ADD COLUMN last_attempt REAL;
ALTER TABLE queue_recipients ADD COLUMN delay_notified INTEGER NOT NULL DEFAULT 0;

CREATE TABLE dkim_keys (
    domain      TEXT NOT NULL,
    selector    TEXT NOT NULL,
    algorithm   TEXT NOT NULL,
    private_pem BLOB NOT NULL,
    public_b64  TEXT NOT NULL,
    created     REAL NOT NULL,
    PRIMARY KEY (domain, selector)
) WITHOUT ROWID;
