-- The middle of the flow: local recipients are queued for an account, and the MDA picks the
-- mailbox when it delivers; journey events carry a typed payload (JSON) instead of prose.

ALTER TABLE queue_recipients ADD COLUMN account INTEGER;
UPDATE queue_recipients SET account = (SELECT account FROM mailboxes WHERE id = queue_recipients.mailbox)
    WHERE mailbox IS NOT NULL;
-- A local recipient whose mailbox went away must not turn into a remote one: kept for the administrator.
UPDATE queue_recipients SET state = 'held', last_reply = 'its mailbox no longer exists'
    WHERE mailbox IS NOT NULL AND account IS NULL AND state = 'queued';
ALTER TABLE queue_recipients DROP COLUMN mailbox;

-- Events written before payloads existed keep their text as a note; stage names as trace.events.Stage.
ALTER TABLE journey ADD COLUMN data TEXT NOT NULL DEFAULT '{}';
UPDATE journey SET data = json_object('type', 'note', 'text', detail);
UPDATE journey SET stage = 'fixed-up' WHERE stage = 'fixed up';
ALTER TABLE journey DROP COLUMN detail;

-- Events recorded once per scope (IMAP's first fetch of a message per account and mailbox).
CREATE TABLE journey_once (
    queue_id TEXT NOT NULL,
    stage    TEXT NOT NULL,
    scope    TEXT NOT NULL,
    PRIMARY KEY (queue_id, stage, scope)
) WITHOUT ROWID;
