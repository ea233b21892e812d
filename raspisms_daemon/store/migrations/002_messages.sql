-- Messages, phones and calls (daemon engineer). Field names follow RaspiSMS where it has them.
-- Every time is unix seconds (REAL); the API and webhooks format them as local "YYYY-MM-DD HH:MM:SS".

-- One row per [phone:ID], upserted from the config at start-up; status fields kept by the supervisor.
CREATE TABLE phone (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    backend TEXT NOT NULL DEFAULT 'at',
    device TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'disconnected',      -- connected | disconnected | disabled
    disabled_at REAL,                                  -- set by reliability auto-disable
    disabled_reason TEXT,
    imei TEXT,
    imsi TEXT,
    iccid TEXT,
    operator TEXT,
    signal INTEGER,
    registration TEXT,
    last_seen REAL
);

CREATE TABLE received (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,                                  -- reception time (RaspiSMS uses the reception date)
    text TEXT NOT NULL,
    origin TEXT NOT NULL,
    id_phone INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'unread',
    command INTEGER NOT NULL DEFAULT 0,
    mms INTEGER NOT NULL DEFAULT 0,
    smsc TEXT,
    scts TEXT,                                         -- ISO 8601 with the zone the PDU gave
    parts INTEGER NOT NULL DEFAULT 1,
    complete INTEGER NOT NULL DEFAULT 1                -- 0: multipart delivered incomplete after the timeout
);
CREATE INDEX received_phone_at ON received (id_phone, at);

-- "(phone, storage, index, pdu) taken in": written in the same transaction as what the message became,
-- so that a message seen again (crash before AT+CMGD, periodic sweep) is deleted but never emitted twice.
CREATE TABLE taken_in (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    id_phone INTEGER NOT NULL,
    storage TEXT NOT NULL,
    sim_index INTEGER NOT NULL,
    pdu TEXT NOT NULL,
    kind TEXT NOT NULL,                                -- sms | part | report | undecodable
    ref_id INTEGER,                                    -- received / multipart_part / undecodable id
    taken_at REAL NOT NULL                             -- pruned after a retention period (phones/jobs.py)
);
CREATE UNIQUE INDEX taken_in_slot ON taken_in (id_phone, storage, sim_index, pdu);
CREATE INDEX taken_in_age ON taken_in (taken_at);

CREATE TABLE multipart_part (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    id_phone INTEGER NOT NULL,
    origin TEXT NOT NULL,
    ref INTEGER NOT NULL,
    total INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    text TEXT NOT NULL,
    smsc TEXT,
    scts TEXT,
    received_at REAL NOT NULL
);
CREATE UNIQUE INDEX multipart_part_key ON multipart_part (id_phone, origin, ref, total, seq);
CREATE INDEX multipart_part_age ON multipart_part (received_at);

-- PDUs the codec refused, kept raw so that nothing is lost.
CREATE TABLE undecodable (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    id_phone INTEGER NOT NULL,
    storage TEXT NOT NULL,
    sim_index INTEGER,
    pdu TEXT NOT NULL,
    error TEXT NOT NULL,
    received_at REAL NOT NULL
);

-- SMS to send (API / CLI). state: pending -> done (every number has its sended row) | cancelled.
CREATE TABLE scheduled (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    id_user INTEGER NOT NULL DEFAULT 1,
    at REAL NOT NULL,
    text TEXT NOT NULL,
    id_phone INTEGER,                                  -- NULL: any enabled phone
    flash INTEGER NOT NULL DEFAULT 0,
    tag TEXT,
    mms INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'pending',
    created_at REAL NOT NULL
);
CREATE INDEX scheduled_due ON scheduled (state, at);

CREATE TABLE scheduled_number (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    id_scheduled INTEGER NOT NULL REFERENCES scheduled (id) ON DELETE CASCADE,
    number TEXT NOT NULL
);
CREATE INDEX scheduled_number_scheduled ON scheduled_number (id_scheduled);

-- One row per destination. state is our lifecycle (sending is committed BEFORE the PDU is written:
-- a row found 'sending' at start-up is never re-sent, it ends 'sent' with status 'unknown');
-- status is RaspiSMS's (unknown | delivered | failed).
CREATE TABLE sended (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    text TEXT NOT NULL,
    destination TEXT NOT NULL,
    id_phone INTEGER,
    status TEXT NOT NULL DEFAULT 'unknown',
    state TEXT NOT NULL DEFAULT 'sending',             -- sending | sent | failed
    flash INTEGER NOT NULL DEFAULT 0,
    uid TEXT,
    tag TEXT,
    mms INTEGER NOT NULL DEFAULT 0,
    originating_scheduled INTEGER,
    scheduled_number INTEGER,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    final_at REAL                                      -- when status became final (report / failure)
);
CREATE INDEX sended_phone_at ON sended (id_phone, at);
CREATE INDEX sended_state ON sended (state);
CREATE INDEX sended_scheduled ON sended (originating_scheduled);

CREATE TABLE sended_part (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    id_sended INTEGER NOT NULL REFERENCES sended (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    id_phone INTEGER NOT NULL,
    mr INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',            -- pending | delivered | failed
    sent_at REAL NOT NULL,
    report_at REAL
);
CREATE INDEX sended_part_mr ON sended_part (id_phone, mr, sent_at);

-- Status reports that arrived before the part they report on was recorded (the report can beat the
-- sender's commit); the sender applies them when it records its parts.
CREATE TABLE unmatched_report (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    id_phone INTEGER NOT NULL,
    mr INTEGER NOT NULL,
    number TEXT NOT NULL,
    outcome TEXT NOT NULL,                             -- delivered | pending | failed
    status INTEGER NOT NULL,
    received_at REAL NOT NULL
);
CREATE INDEX unmatched_report_mr ON unmatched_report (id_phone, mr);

CREATE TABLE call (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    id_user INTEGER NOT NULL DEFAULT 1,
    id_phone INTEGER NOT NULL,
    uid TEXT NOT NULL UNIQUE,
    start REAL NOT NULL,
    end REAL,
    direction TEXT NOT NULL DEFAULT 'inbound',
    origin TEXT,
    destination TEXT,
    rings INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX call_phone_start ON call (id_phone, start);

CREATE TABLE phone_reliability_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    id_phone INTEGER NOT NULL,
    type TEXT NOT NULL,                                -- failed | unknown
    created_at REAL NOT NULL
);
CREATE INDEX phone_reliability_history_phone ON phone_reliability_history (id_phone, type, created_at);
