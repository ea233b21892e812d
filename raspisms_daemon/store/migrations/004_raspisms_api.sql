-- What RaspiSMS's API and sending rules need: per-number template data and rendered text, numbers
-- skipped at send time (SMS STOP), phone groups and priorities, the SMS STOP list, webhook flavours.

-- data: the number's JSON data as the client sent it (RaspiSMS's scheduled_number.data, '[]' when
-- none); text: the text rendered for this number (NULL: the scheduled text as it is); skipped: why the
-- number was not sent (no sended row, no webhook: RaspiSMS leaves no trace either).
ALTER TABLE scheduled_number ADD COLUMN data TEXT NOT NULL DEFAULT '[]';
ALTER TABLE scheduled_number ADD COLUMN text TEXT;
ALTER TABLE scheduled_number ADD COLUMN skipped TEXT;
ALTER TABLE scheduled_number ADD COLUMN skipped_at REAL;
CREATE INDEX scheduled_number_skipped ON scheduled_number (number) WHERE skipped IS NOT NULL;

ALTER TABLE scheduled ADD COLUMN id_phone_group INTEGER;

-- From [phone:ID] group / priority.
ALTER TABLE phone ADD COLUMN id_phone_group INTEGER;
ALTER TABLE phone ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;

-- Numbers that sent SMS STOP: nothing is sent to them any more, except SMS tagged SMS_STOP.
CREATE TABLE smsstop (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    number TEXT NOT NULL UNIQUE,                       -- as the network gave it (RaspiSMS: the same)
    id_phone INTEGER,                                  -- the phone it came in on; NULL: added by hand
    id_received INTEGER,                               -- the STOP message
    at REAL NOT NULL
);

ALTER TABLE webhook ADD COLUMN flavor TEXT NOT NULL DEFAULT 'documented'
    CHECK (flavor IN ('documented', 'raspisms'));
